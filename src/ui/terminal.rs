//! The one terminal guard. Entering sets raw mode, the alternate screen, a hidden cursor, bracketed
//! paste and (only when asked) mouse capture; leaving restores every one of them — in `Drop`, in a
//! chained panic hook, and around a Ctrl-Z suspend. ratatui's own `restore()` neither shows the
//! cursor nor turns mouse capture off, so this does it by hand. The panic hook never exits the
//! process: the store must get its chance to flush as the stack unwinds.

use std::io::{self, Stdout, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::{Hide, Show};
use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{execute, queue};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::ui::scrolling_backend::ScrollingBackend;

/// Whether the terminal is currently in callboard's mode, so restoring twice (Drop after the
/// panic hook) writes nothing the second time.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Whether mouse capture was enabled, so restore turns it off only then.
static MOUSE: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();

/// The app's terminal: crossterm on stdout, with moved rows scrolled instead of rewritten.
pub type Tui = Terminal<ScrollingBackend<CrosstermBackend<Stdout>>>;

fn new_terminal() -> io::Result<Tui> {
    Terminal::new(ScrollingBackend::new(CrosstermBackend::new(io::stdout()))?)
}

/// Holds the terminal in callboard's mode; dropping it restores the user's terminal.
pub struct TerminalGuard {
    terminal: Tui,
}

impl TerminalGuard {
    /// Takes over the terminal. On error, whatever was already set is restored.
    pub fn enter(mouse: bool) -> io::Result<TerminalGuard> {
        install_panic_hook();
        MOUSE.store(mouse, Ordering::SeqCst);
        if let Err(err) = enter_mode() {
            restore();
            return Err(err);
        }
        let terminal = match new_terminal() {
            Ok(terminal) => terminal,
            Err(err) => {
                restore();
                return Err(err);
            }
        };
        Ok(TerminalGuard { terminal })
    }

    pub fn terminal(&mut self) -> &mut Tui {
        &mut self.terminal
    }

    /// Ctrl-Z: gives the terminal back, stops the process with SIGTSTP (as the shell expects),
    /// and takes the terminal again when the shell resumes it with `fg`. Raw mode turns the
    /// terminal's own Ctrl-Z handling off, which is why the app does this itself.
    pub fn suspend(&mut self) -> io::Result<()> {
        restore();
        // SAFETY: raise() only sends a signal to this process; SIGTSTP's default action stops
        // it until SIGCONT, after which raise() returns.
        unsafe {
            libc::raise(libc::SIGTSTP);
        }
        enter_mode()?;
        // The screen is whatever the shell left: blank it and start from a fresh terminal,
        // whose empty back buffer (and blank screen model) makes the next frame paint every
        // cell. (`Terminal::clear` would ask the terminal for the cursor position, and the
        // reply is read by the input thread, so that call times out after a resume.)
        execute!(
            io::stdout(),
            crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
        )?;
        self.terminal = new_terminal()?;
        Ok(())
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

fn enter_mode() -> io::Result<()> {
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let mut stdout = io::stdout();
    queue!(stdout, EnterAlternateScreen, Hide, EnableBracketedPaste)?;
    if MOUSE.load(Ordering::SeqCst) {
        queue!(stdout, EnableMouseCapture)?;
    }
    stdout.flush()
}

/// Puts the terminal back as the user had it. Safe to call any number of times, from any thread,
/// including a panic hook; errors are ignored because there is nothing better to do with them.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut stdout = io::stdout();
    if MOUSE.load(Ordering::SeqCst) {
        let _ = execute!(stdout, DisableMouseCapture);
    }
    let _ = execute!(stdout, DisableBracketedPaste, LeaveAlternateScreen, Show);
    let _ = disable_raw_mode();
}

/// Restores the terminal before the previous hook prints the panic, so the message lands on a
/// normal screen instead of vanishing with the alternate one.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
