//! What the mailbox benchmarks share: synthetic messages and the raw
//! in-memory encryption that is their ceiling.

use latchkey_core::encryption::Encryptor;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A message of about `size` bytes: headers, then base64-looking lines.
pub fn message(index: usize, size: usize) -> Vec<u8> {
    let mut text = format!(
        "From: sender{index}@example.org\nTo: alice@example.org\nSubject: Message {index}\nMessage-ID: <{index}@bench.example.org>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n"
    );
    let mut line = 0usize;
    while text.len() < size {
        text.push_str(&format!(
            "{:076x}\n",
            (line as u128 * 0x9e37_79b9_7f4a_7c15 + index as u128) % (1 << 120)
        ));
        line += 1;
    }
    text.into_bytes()
}

/// Encrypts `contents` from memory to nowhere on `threads` threads, each
/// taking the next message; answers how long it took.
pub fn encrypt_in_memory(contents: &[Vec<u8>], encryptor: &Encryptor, threads: usize) -> Duration {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(content) = contents.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let mut input = content.as_slice();
                    encryptor.encrypt(&mut input, &mut std::io::sink()).unwrap();
                }
            });
        }
    });
    started.elapsed()
}
