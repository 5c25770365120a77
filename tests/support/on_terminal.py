"""Runs a command on a new pseudo-terminal, as if a person sat at it.

Usage: on_terminal.py PROMPT ANSWER COMMAND [ARG...]

Once the terminal shows PROMPT, types ANSWER and Enter. Prints everything the terminal showed,
the typed characters that it echoed included, then on stderr whether the terminal echoes what
is typed once the command has ended ("echo: on" or "echo: off"), and exits with the command's
status. Exits 124 if the command neither prompts nor ends within 60 seconds.
"""

import os
import select
import subprocess
import sys
import termios
import time


def main():
    prompt, answer, command = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3:]
    main_end, terminal = os.openpty()
    child = subprocess.Popen(
        command, stdin=terminal, stdout=terminal, stderr=terminal, start_new_session=True
    )
    os.close(terminal)
    shown = b""
    answered = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main_end], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(main_end, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        if not answered and prompt in shown:
            os.write(main_end, answer + b"\n")
            answered = True
        if not ready and child.poll() is not None:
            break
    else:
        child.kill()
        sys.stdout.buffer.write(shown)
        sys.exit(124)
    status = child.wait()
    sys.stdout.buffer.write(shown)
    echo = termios.tcgetattr(main_end)[3] & termios.ECHO
    print("echo: on" if echo else "echo: off", file=sys.stderr)
    sys.exit(status)


main()
