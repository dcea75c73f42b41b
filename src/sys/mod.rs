//! Process plumbing shared by every command: OS helpers (`os`: hostname, process checks, priority),
//! file locks (`lock`), the capped retry helper (`retry`), tracing setup (`logging`) and the exit-code
//! contract (`exit`).

pub mod exit;
pub mod lock;
pub mod logging;
pub mod os;
pub mod retry;
