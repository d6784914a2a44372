/// What became of one attempt at a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied (or already applied: redelivery is harmless).
    Done,
    /// Not applied: a newer request for the same feature was applied first.
    Superseded,
    /// Handed on as this many part jobs (a large mailbox pass): the job
    /// stays running, and its last part to end records how it ended.
    Split(usize),
    /// Not due yet (a scheduled job that came back early): it waits on the
    /// broker's delay ladder again until this time.
    Later(time::OffsetDateTime),
    /// Failed for a reason that may pass (directory unreachable); try later.
    Retry(String),
    /// Failed for good; the text is shown to the user.
    Failed(String),
    /// Not a job to apply (no record, or a record of another account or
    /// kind): parked for operators, its record left alone; the text says why.
    Refused(String),
}
