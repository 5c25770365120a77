//! Reading a passphrase at the terminal without showing it as it is typed.

use std::io::{self, BufRead as _};

use zeroize::Zeroizing;

/// Shows `prompt` on stderr and reads one line from standard input, a terminal, with echo off
/// until the line is read. The prompt shows only once echo is off, so nothing typed in answer
/// to it can show. The newline the user types still shows, so what is printed next starts on
/// its own line.
pub fn read_hidden_line(prompt: &str) -> io::Result<Zeroizing<String>> {
    let stdin = io::stdin();
    let _echo_off = EchoOff::new(&stdin)?;
    eprint!("{prompt}");
    let mut line = Zeroizing::new(String::new());
    stdin.lock().read_line(&mut line)?;
    let typed = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(typed);
    Ok(line)
}

/// The terminal's settings with echo off; the saved settings come back on drop, also when
/// reading fails.
#[cfg(unix)]
struct EchoOff {
    saved: rustix::termios::Termios,
}

#[cfg(unix)]
impl EchoOff {
    fn new(stdin: &io::Stdin) -> io::Result<Self> {
        use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};

        let saved = tcgetattr(stdin)?;
        let mut hidden = saved.clone();
        hidden.local_modes.remove(LocalModes::ECHO);
        hidden.local_modes.insert(LocalModes::ECHONL);
        tcsetattr(stdin, OptionalActions::Now, &hidden)?;
        Ok(EchoOff { saved })
    }
}

#[cfg(unix)]
impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

/// Elsewhere there is no portable way to turn echo off, so no passphrase is asked for: a
/// passphrase-protected key must be unlocked another way.
#[cfg(not(unix))]
struct EchoOff;

#[cfg(not(unix))]
impl EchoOff {
    fn new(_stdin: &io::Stdin) -> io::Result<Self> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "hiding a passphrase as it is typed needs a Unix terminal",
        ))
    }
}
