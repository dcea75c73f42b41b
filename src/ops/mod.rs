//! What an operator runs beside the daily job: the setup checklist (`doctor`), housekeeping
//! (`retention`) and the scheduler daemon (`schedule`). None of it is on the data path; the daemon runs
//! the CLI as child processes.

pub mod doctor;
pub mod retention;
pub mod schedule;
