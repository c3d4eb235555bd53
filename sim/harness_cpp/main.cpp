// Byte-stream harness for a Verilated lifstp device: clocks the model freely and moves bytes between
// a file descriptor pair (stdin/stdout, or a pseudo-terminal with --pty) and the model's byte streams
// (rx: host to device, tx: device to host). Python wakes only for bytes, never per cycle.
//
// Built with -DHARNESS_SERIAL_DIVISOR=D the model's rx/tx are instead serial lines (a board top level's
// UART pins), driven and sampled here as 8N1 at D clock cycles per bit: the whole UART path simulated.
// Usage: harness [--pty]
//   --pty  open a pseudo-terminal, print its path on the first line of stdout, and serve it.
// It exits on SIGTERM, or on EOF on input once the device is idle (or, with the host gone, once nothing
// has moved for ORPHAN_QUIET_S seconds). On exit it prints "cycles=<n> busy_cycles=<n> busy_seconds=<s>"
// on stderr: all simulated cycles, the cycles in which the device was busy (not idle; counted every
// cycle, so exact), and the wall time of the 256-cycle slices that ended busy (its speed). SIGUSR1
// restarts the busy counts (and, in serial mode, the line statistics), to time one phase of a session,
// after printing the phase's busy cycles ("phase busy_cycles=<n>").
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

// Seconds without a byte moving after which a harness whose input has closed gives up on a busy device.
static const double ORPHAN_QUIET_S = 2.0;

static volatile sig_atomic_t stop_requested = 0;
static volatile sig_atomic_t reset_stats = 0;
static void on_signal(int) { stop_requested = 1; }
static void on_usr1(int) { reset_stats = 1; }

int main(int argc, char** argv) {
    bool use_pty = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--pty")) use_pty = true;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, on_usr1);  // restart the statistics (to time one phase of a session)

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
    // Both ends non-blocking: a host that writes without reading must never stop the harness taking
    // its input (the device's output waits in tx_buf, however much of it there is).
    fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
    fcntl(out_fd, F_SETFL, fcntl(out_fd, F_GETFL) | O_NONBLOCK);

    auto ctx = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<HARNESS_MODEL>(ctx.get());
    top->clk = 0;
    top->rst = 1;
#ifdef HARNESS_SERIAL_DIVISOR
    top->rx = 1;  // an idle line is high
#endif
    for (int i = 0; i < 4; i++) { top->clk ^= 1; top->eval(); }
    top->rst = 0;

    std::vector<unsigned char> rx_buf;  // bytes from the host not yet taken by the device
    size_t rx_pos = 0;
    std::vector<unsigned char> tx_buf;  // bytes from the device; those from tx_pos on not yet written
    size_t tx_pos = 0;
    unsigned long long cycles = 0, quiet = 0, busy_cycles = 0;
#ifdef HARNESS_SERIAL_DIVISOR
    int line_out_bit = -1, line_out_timer = 0, line_out_word = 0;  // host -> device line
    int line_in_bit = -1, line_in_timer = 0, line_in_word = 0;     // device -> host line
    unsigned long long bytes_in = 0, bytes_out = 0, framing_errors = 0;
    unsigned long long first_in = 0, last_in = 0, first_out = 0, last_out = 0;  // cycles of line activity
#endif
    double busy_seconds = 0.0;
    auto last_time = std::chrono::steady_clock::now();
    bool input_open = true;
    auto last_moved = last_time;           // when a byte last moved (checked only once input has closed)
    unsigned long long prev_check = 0;
    unsigned char chunk[4096];

    while (!stop_requested) {
        if (reset_stats) {
            reset_stats = 0;
            fprintf(stderr, "phase busy_cycles=%llu\n", busy_cycles);  // the phase that ends here
            busy_cycles = 0;
            busy_seconds = 0.0;
#ifdef HARNESS_SERIAL_DIVISOR
            bytes_in = bytes_out = 0;
            first_in = last_in = first_out = last_out = 0;
#endif
        }
        // Exchange bytes with the host every 256 cycles, or at once when there is nothing to do.
        // It sleeps on its input only when the device is neither busy nor talking.
        bool can_sleep = rx_pos >= rx_buf.size() && quiet > 4096 && top->idle;
        if ((cycles & 255) == 0 || can_sleep) {
            auto now = std::chrono::steady_clock::now();
            if (!top->idle) busy_seconds += std::chrono::duration<double>(now - last_time).count();
            last_time = now;
            if (tx_pos < tx_buf.size()) {
                ssize_t w = write(out_fd, tx_buf.data() + tx_pos, tx_buf.size() - tx_pos);
                if (w > 0) tx_pos += w;
                if (tx_pos == tx_buf.size()) { tx_buf.clear(); tx_pos = 0; }
                else if (tx_pos >= (1u << 20)) { tx_buf.erase(tx_buf.begin(), tx_buf.begin() + tx_pos); tx_pos = 0; }
            }
            bool want_in = input_open && rx_pos >= rx_buf.size();
            if (want_in) {
                rx_buf.clear();
                rx_pos = 0;
            }
            if (want_in || (can_sleep && !tx_buf.empty())) {
                // Sleep (1 ms at most) only when idle, until the host sends or takes bytes.
                struct pollfd p[2] = {{in_fd, (short)(want_in ? POLLIN : 0), 0},
                                      {out_fd, (short)(tx_buf.empty() ? 0 : POLLOUT), 0}};
                int nfds = (in_fd == out_fd) ? 1 : 2;
                if (nfds == 1) p[0].events |= p[1].events;
                if (poll(p, nfds, can_sleep ? 1 : 0) > 0 && want_in && (p[0].revents & (POLLIN | POLLHUP))) {
                    ssize_t r = read(in_fd, chunk, sizeof chunk);
                    if (r > 0) { rx_buf.assign(chunk, chunk + r); quiet = 0; }
                    else if (r == 0 && !use_pty) input_open = false;
                }
            }
            if (!input_open && tx_buf.empty() && can_sleep) break;  // tx_buf is empty once all is written
            // The host has gone (EOF) and nothing has moved for ORPHAN_QUIET_S: a run stalled for credit
            // that can no longer come. Exit rather than simulate it for ever (a silent run still sends
            // a SKIP every 255 ticks, far more often than this).
            if (quiet < cycles - prev_check) last_moved = now;
            prev_check = cycles;
            if (!input_open && std::chrono::duration<double>(now - last_moved).count() > ORPHAN_QUIET_S) break;
        }
#ifndef HARNESS_SERIAL_DIVISOR
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
#else
        // The serial lines, 8N1 at HARNESS_SERIAL_DIVISOR cycles per bit, both directions.
        const int D = HARNESS_SERIAL_DIVISOR;
        bool took = false, gave = false;
        unsigned char out_byte = 0;
        if (line_out_bit < 0 && rx_pos < rx_buf.size()) {  // start the next byte: start bit first
            line_out_word = (rx_buf[rx_pos] << 1) | (1 << 9);
            line_out_bit = 0;
            line_out_timer = 0;
        }
        top->rx = line_out_bit < 0 ? 1 : (line_out_word >> line_out_bit) & 1;
        top->clk = 0;
        top->eval();
        int level = top->tx;
        top->clk = 1;
        top->eval();
        if (line_out_bit >= 0 && ++line_out_timer == D) {
            line_out_timer = 0;
            if (++line_out_bit == 10) {
                line_out_bit = -1; rx_pos++; took = true;
                if (bytes_in++ == 0) first_in = cycles + 1 - 10 * D;
                last_in = cycles + 1;
            }
        }
        if (line_in_bit < 0) {
            if (!level) { line_in_bit = 0; line_in_timer = D + D / 2; line_in_word = 0; }
        } else if (--line_in_timer == 0) {
            if (line_in_bit < 8) {
                line_in_word |= level << line_in_bit;
                line_in_bit++;
                line_in_timer = D;
            } else {  // the stop bit
                if (level) {
                    out_byte = line_in_word; gave = true; tx_buf.push_back(out_byte);
                    if (bytes_out++ == 0) first_out = cycles - 9 * D - D / 2;
                    last_out = cycles + D / 2;
                }
                else framing_errors++;
                line_in_bit = -1;
            }
        }
#endif
        busy_cycles += !top->idle;  // the device's state in the cycle just clocked
        cycles++;
        quiet = (took || gave) ? 0 : quiet + 1;  // cycles without a byte moving
    }
    // What is left for the host, given 1 s to take it (a host that has gone does not hold the exit up).
    for (int waited = 0; tx_pos < tx_buf.size() && waited < 1000; waited++) {
        ssize_t w = write(out_fd, tx_buf.data() + tx_pos, tx_buf.size() - tx_pos);
        if (w > 0) { tx_pos += w; continue; }
        if (w < 0 && errno != EAGAIN && errno != EINTR) break;
        struct pollfd p = {out_fd, POLLOUT, 0};
        poll(&p, 1, 1);
    }
    top->final();
    fprintf(stderr, "cycles=%llu busy_cycles=%llu busy_seconds=%.6f", cycles, busy_cycles, busy_seconds);
#ifdef HARNESS_SERIAL_DIVISOR
    fprintf(stderr, " divisor=%d bytes_in=%llu bytes_out=%llu framing_errors=%llu first_in=%llu last_in=%llu"
            " first_out=%llu last_out=%llu", HARNESS_SERIAL_DIVISOR, bytes_in, bytes_out, framing_errors,
            first_in, last_in, first_out, last_out);
#endif
    fprintf(stderr, "\n");
    return 0;
}
