//! The one retry loop: try, and after a failure that the caller says is worth another try, wait a
//! doubling delay (capped) and try again. Used by the SFTP source (reconnecting after network trouble)
//! and the email delivery (a refused or dropped SMTP send).

use std::time::Duration;

/// No wait between two tries is longer than this, whatever the base and the number of tries.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// `base`, 2×, 4×… between tries, at most [`MAX_WAIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
}

impl Backoff {
    pub fn new(base: Duration) -> Backoff {
        Backoff { base }
    }

    /// The wait after the `failures`-th failure (1 for the first): `base × 2^(failures − 1)`, capped.
    pub fn wait(&self, failures: u32) -> Duration {
        self.base.saturating_mul(1u32 << failures.saturating_sub(1).min(16)).min(MAX_WAIT)
    }
}

/// Runs `op` on `state` until it succeeds or `again(state, error, failures, wait)` answers false;
/// `failures` counts the failed tries so far (1 after the first) and `wait` is how long the loop sleeps
/// before the next try if the answer is yes (a caller logs it, and can reset its connection on
/// `state`). Returns the last result and the number of tries made.
pub fn retry<S: ?Sized, T, E>(
    state: &mut S,
    backoff: Backoff,
    mut op: impl FnMut(&mut S) -> Result<T, E>,
    mut again: impl FnMut(&mut S, &E, u32, Duration) -> bool,
) -> (Result<T, E>, u32) {
    let mut tries = 0u32;
    loop {
        tries += 1;
        match op(state) {
            Ok(v) => return (Ok(v), tries),
            Err(e) => {
                let wait = backoff.wait(tries);
                if !again(state, &e, tries, wait) {
                    return (Err(e), tries);
                }
                std::thread::sleep(wait);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_doubles_and_is_capped() {
        let b = Backoff::new(Duration::from_millis(500));
        assert_eq!(b.wait(1), Duration::from_millis(500));
        assert_eq!(b.wait(4), Duration::from_millis(4000));
        assert_eq!(b.wait(31), MAX_WAIT);
        assert_eq!(Backoff::new(Duration::from_secs(3600)).wait(1), MAX_WAIT, "a long base is capped too");
    }

    #[test]
    fn retries_until_success_or_the_caller_stops() {
        let b = Backoff::new(Duration::ZERO);
        let mut left = 2;
        let (r, tries) = retry(
            &mut left,
            b,
            |l| {
                if *l == 0 {
                    Ok("done")
                } else {
                    *l -= 1;
                    Err("busy")
                }
            },
            |_, _, _, _| true,
        );
        assert_eq!((r, tries), (Ok("done"), 3));
        let mut seen = Vec::new();
        let (r, tries) = retry(
            &mut seen,
            b,
            |_| Err::<(), _>("down"),
            |s, _, n, _| {
                s.push(n);
                n < 3
            },
        );
        assert_eq!((r, tries), (Err("down"), 3));
        assert_eq!(seen, vec![1, 2, 3]);
    }
}
