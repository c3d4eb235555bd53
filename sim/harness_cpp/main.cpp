// Byte-stream harness for a Verilated lifstp device: clocks the model freely and moves bytes between
// a file descriptor pair (stdin/stdout, or a pseudo-terminal with --pty) and the model's byte streams
// (rx: host to device, tx: device to host). Python wakes only for bytes, never per cycle.
//
// Usage: harness [--pty]
//   --pty  open a pseudo-terminal, print its path on the first line of stdout, and serve it.
// On exit (EOF on input, or SIGTERM) it prints "cycles=<n> busy_cycles=<n> busy_seconds=<s>" on stderr:
// all simulated cycles, and the cycles and wall time spent while the device was busy (its speed).
// The model's ports: clk, rst, rx (stream in), tx (stream out), idle (nothing in progress);
// Verilator escapes the double underscore of Amaranth's flattened names ("rx__valid" becomes "rx___05Fvalid").
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>
#include <memory>
#include <vector>

#include "verilated.h"
#include HARNESS_MODEL_HEADER

static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int) { stop_requested = 1; }

int main(int argc, char** argv) {
    bool use_pty = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--pty")) use_pty = true;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    int in_fd = 0, out_fd = 1;
    if (use_pty) {
        int master = posix_openpt(O_RDWR | O_NOCTTY);
        if (master < 0 || grantpt(master) || unlockpt(master)) { perror("pty"); return 1; }
        struct termios t;
        tcgetattr(master, &t);
        cfmakeraw(&t);
        tcsetattr(master, TCSANOW, &t);
        // Keep the slave open ourselves so the master never sees a hang-up between host sessions.
        int keep = open(ptsname(master), O_RDWR | O_NOCTTY);
        if (keep >= 0) { tcgetattr(keep, &t); cfmakeraw(&t); tcsetattr(keep, TCSANOW, &t); }
        printf("%s\n", ptsname(master));
        fflush(stdout);
        in_fd = out_fd = master;
    }
    fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);

    auto ctx = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<HARNESS_MODEL>(ctx.get());
    top->clk = 0;
    top->rst = 1;
    for (int i = 0; i < 4; i++) { top->clk ^= 1; top->eval(); }
    top->rst = 0;

    std::vector<unsigned char> rx_buf;  // bytes from the host not yet taken by the device
    size_t rx_pos = 0;
    std::vector<unsigned char> tx_buf;  // bytes from the device not yet written to the host
    unsigned long long cycles = 0, quiet = 0, busy_cycles = 0, last_check = 0;
    double busy_seconds = 0.0;
    auto last_time = std::chrono::steady_clock::now();
    bool input_open = true;
    unsigned char chunk[4096];

    while (!stop_requested) {
        // Exchange bytes with the host every 256 cycles, or at once when there is nothing to do.
        // It sleeps on its input only when the device is neither busy nor talking.
        bool can_sleep = rx_pos >= rx_buf.size() && quiet > 4096 && top->idle;
        if ((cycles & 255) == 0 || can_sleep) {
            auto now = std::chrono::steady_clock::now();
            if (!top->idle) {
                busy_cycles += cycles - last_check;
                busy_seconds += std::chrono::duration<double>(now - last_time).count();
            }
            last_check = cycles;
            last_time = now;
            if (!tx_buf.empty()) {
                ssize_t w = write(out_fd, tx_buf.data(), tx_buf.size());
                if (w > 0) tx_buf.erase(tx_buf.begin(), tx_buf.begin() + w);
            }
            if (input_open && rx_pos >= rx_buf.size()) {
                rx_buf.clear();
                rx_pos = 0;
                int timeout_ms = (can_sleep && tx_buf.empty()) ? 1 : 0;
                struct pollfd p = {in_fd, POLLIN, 0};
                if (poll(&p, 1, timeout_ms) > 0) {
                    ssize_t r = read(in_fd, chunk, sizeof chunk);
                    if (r > 0) { rx_buf.assign(chunk, chunk + r); quiet = 0; }
                    else if (r == 0 && !use_pty) input_open = false;
                }
            }
            if (!input_open && tx_buf.empty() && can_sleep) break;
        }
        // Drive the streams for this cycle (values sampled at the rising edge).
        top->rx___05Fvalid = rx_pos < rx_buf.size();
        if (top->rx___05Fvalid) top->rx___05Fpayload = rx_buf[rx_pos];
        top->tx___05Fready = 1;
        top->clk = 0;
        top->eval();
        bool took = top->rx___05Fvalid && top->rx___05Fready;
        bool gave = top->tx___05Fvalid;
        unsigned char out_byte = top->tx___05Fpayload;
        top->clk = 1;
        top->eval();
        if (took) rx_pos++;
        if (gave) tx_buf.push_back(out_byte);
        cycles++;
        quiet = (took || gave) ? 0 : quiet + 1;  // cycles without a byte moving
    }
    if (!tx_buf.empty()) { ssize_t w = write(out_fd, tx_buf.data(), tx_buf.size()); (void)w; }
    top->final();
    fprintf(stderr, "cycles=%llu busy_cycles=%llu busy_seconds=%.6f\n", cycles, busy_cycles, busy_seconds);
    return 0;
}
