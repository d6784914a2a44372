/// What became of one attempt at a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied (or already applied: redelivery is harmless).
    Done,
    /// Failed for a reason that may pass (directory unreachable); try later.
    Retry(String),
    /// Failed for good; the text is shown to the user.
    Failed(String),
}
