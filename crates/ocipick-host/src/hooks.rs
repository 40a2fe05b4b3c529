//! Selection hooks: `[[hook]]` programs that adjust or veto candidates.
//!
//! A hook is run directly (no shell) with one JSON document on its stdin —
//! the target, the host facts and every entry of the index with its
//! eligibility and score so far — and answers on stdout with per-entry score
//! adjustments or vetoes. The protocol is documented for hook authors in
//! `docs/hooks.md`; this module is its one implementation.
//!
//! Everything is bounded: the hook's stdin is written from a thread (a hook
//! that never reads it cannot block us), stdout is read up to
//! [`MAX_OUTPUT_BYTES`], stderr up to a few KiB (the rest is discarded), and
//! a hook still running at its `timeout-ms` is killed — with everything it
//! started, on Unix, since it runs in its own process group — and reaped.
//!
//! The answers become [`ocipick::Adjustment`]s for
//! [`ocipick::Policy::with_adjustments`], which can lower, raise or veto an
//! entry but never make an ineligible entry eligible.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ocipick::{Adjustment, HookSpec, Index, OnFailure, Policy, Ranked, Ranking};
use serde_json::{json, Value};

/// The protocol version written as `"version"` on the hook's stdin.
pub const PROTOCOL_VERSION: u64 = 1;

/// The most a hook may print on stdout; more is a garbage answer.
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;

/// A `reason` longer than this (in characters) is cut to it.
pub const MAX_NOTE_CHARS: usize = 200;

/// How much of a hook's stderr goes into an error message (characters).
pub const MAX_STDERR_CHARS: usize = 200;

/// How much of a hook's stderr is kept at all (bytes); the rest is read and
/// discarded, so a chatty hook never blocks on a full pipe.
const STDERR_KEEP_BYTES: usize = 4096;

/// How long to wait for stderr's end once the hook has exited (a background
/// process the hook left behind may hold it open).
const STDERR_GRACE: Duration = Duration::from_millis(100);

/// What the hooks are told: the target, the host and the candidates.
#[derive(Debug, Clone)]
pub struct HookInput<'a> {
    /// The target platform, as a selector (`linux/amd64/v3`).
    pub target: String,
    /// The facts of the host (or of the `--node` file).
    pub facts: &'a crate::Facts,
    /// The index's own `mediaType`, if it has one.
    pub index_media_type: Option<&'a str>,
    /// Every entry of the index, in index order.
    pub candidates: &'a [Candidate],
}

/// One entry of the index, as a hook sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// 0-based position in the index's `manifests`: what answers name.
    pub position: usize,
    /// The entry's digest.
    pub digest: String,
    /// The entry's media type.
    pub media_type: String,
    /// The entry's declared size.
    pub size: u64,
    /// The entry's `platform` object as written, if any.
    pub platform: Option<Value>,
    /// The entry's annotations.
    pub annotations: BTreeMap<String, String>,
    /// Whether the policy (before hooks) lets the entry be selected.
    pub eligible: bool,
    /// The entry's score before hooks.
    pub score: i64,
}

/// Why a hook failed. [`fmt::Display`] names the hook and what went wrong,
/// on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookError {
    /// The program could not be started.
    Spawn {
        /// The hook's name.
        hook: String,
        /// The program.
        program: String,
        /// The operating system's error.
        error: String,
    },
    /// The hook was still running (or still holding its stdout open) after
    /// its timeout; it was killed.
    TimedOut {
        /// The hook's name.
        hook: String,
        /// The timeout.
        timeout_ms: u64,
    },
    /// The hook exited with a non-zero status or was killed by a signal.
    Crashed {
        /// The hook's name.
        hook: String,
        /// `exit status 3`, `signal 9`…
        status: String,
        /// The start of its stderr, on one line (possibly empty).
        stderr: String,
    },
    /// The hook's answer is not the documented JSON (or is over
    /// [`MAX_OUTPUT_BYTES`]).
    Garbage {
        /// The hook's name.
        hook: String,
        /// What is wrong with it.
        why: String,
    },
    /// The answer names a position that is not a candidate.
    BadPosition {
        /// The hook's name.
        hook: String,
        /// The position named.
        position: u64,
        /// How many candidates there are.
        candidates: usize,
    },
}

impl HookError {
    /// The name of the hook that failed.
    #[allow(dead_code)] // for callers that act per hook; the tests use it
    pub fn hook(&self) -> &str {
        match self {
            HookError::Spawn { hook, .. }
            | HookError::TimedOut { hook, .. }
            | HookError::Crashed { hook, .. }
            | HookError::Garbage { hook, .. }
            | HookError::BadPosition { hook, .. } => hook,
        }
    }
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookError::Spawn {
                hook,
                program,
                error,
            } => write!(f, "hook {hook}: cannot run {program}: {error}"),
            HookError::TimedOut { hook, timeout_ms } => {
                write!(f, "hook {hook}: timed out after {timeout_ms} ms (killed)")
            }
            HookError::Crashed {
                hook,
                status,
                stderr,
            } => {
                write!(f, "hook {hook}: failed with {status}")?;
                if !stderr.is_empty() {
                    write!(f, ": {stderr}")?;
                }
                Ok(())
            }
            HookError::Garbage { hook, why } => write!(f, "hook {hook}: unusable answer: {why}"),
            HookError::BadPosition {
                hook,
                position,
                candidates,
            } => write!(
                f,
                "hook {hook}: answer names position {position}, which is not an entry of the index ({candidates} entries)"
            ),
        }
    }
}

impl std::error::Error for HookError {}

/// Runs every hook in order and collects their answers.
///
/// Returns all adjustments (each with [`Adjustment::source`] = the hook's
/// name, in hook order then answer order), plus one warning line for each
/// hook that failed under [`OnFailure::Ignore`]; such a hook contributes no
/// adjustment at all, as if it had not been configured. The first failure
/// of an [`OnFailure::Fail`] hook is returned as the error, and the hooks
/// after it are not run.
///
/// Every hook sees the same input: hooks do not see each other's answers.
///
/// [`apply`] builds the input from an index and a policy and returns the
/// adjusted policy; this is the step below it.
pub fn run_hooks(
    hooks: &[HookSpec],
    input: &HookInput<'_>,
) -> Result<(Vec<Adjustment>, Vec<String>), HookError> {
    let mut adjustments = Vec::new();
    let mut warnings = Vec::new();
    if hooks.is_empty() {
        return Ok((adjustments, warnings));
    }
    let stdin = Arc::new(input_json(input));
    for hook in hooks {
        match run_one(hook, &stdin, input.candidates) {
            Ok(mut adj) => adjustments.append(&mut adj),
            Err(e) => match hook.on_failure {
                OnFailure::Fail => return Err(e),
                OnFailure::Ignore => warnings.push(format!("{e} (ignored)")),
            },
        }
    }
    Ok((adjustments, warnings))
}

/// The document written on every hook's stdin, with a final newline.
fn input_json(input: &HookInput<'_>) -> Vec<u8> {
    let candidates: Vec<Value> = input
        .candidates
        .iter()
        .map(|c| {
            json!({
                "position": c.position,
                "digest": c.digest,
                "mediaType": c.media_type,
                "size": c.size,
                "platform": c.platform.clone().unwrap_or(Value::Null),
                "annotations": c.annotations,
                "eligible": c.eligible,
                "score": c.score,
            })
        })
        .collect();
    let doc = json!({
        "version": PROTOCOL_VERSION,
        "target": input.target,
        "facts": input.facts.to_nfd_json(),
        "index": { "mediaType": input.index_media_type },
        "candidates": candidates,
    });
    let mut bytes = serde_json::to_vec(&doc).expect("a JSON value serializes");
    bytes.push(b'\n');
    bytes
}

/// What the stdout reader saw.
enum Stdout {
    /// End of file, with everything read.
    Done(Vec<u8>),
    /// More than [`MAX_OUTPUT_BYTES`].
    TooLong,
    /// A read error.
    Failed(String),
}

/// Runs one hook and parses its answer.
fn run_one(
    hook: &HookSpec,
    stdin: &Arc<Vec<u8>>,
    candidates: &[Candidate],
) -> Result<Vec<Adjustment>, HookError> {
    let name = hook.name.clone();
    let deadline = Instant::now() + Duration::from_millis(hook.timeout_ms);
    let Some((program, args)) = hook.command.split_first() else {
        return Err(HookError::Spawn {
            hook: name,
            program: String::new(),
            error: "empty command".into(),
        });
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        // Its own process group, so that a timeout kills what it started too.
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(|e| HookError::Spawn {
        hook: name.clone(),
        program: program.clone(),
        error: e.to_string(),
    })?;

    // stdin: from a thread; a hook that does not read it (or exits early,
    // EPIPE) is fine. Write errors are the hook's business.
    if let Some(mut pipe) = child.stdin.take() {
        let data = Arc::clone(stdin);
        thread::spawn(move || {
            use std::io::Write;
            let _ = pipe.write_all(&data);
        });
    }

    // stderr: keep the start, discard the rest, say when it ends.
    let stderr_buf = Arc::new(Mutex::new(Vec::new()));
    let (stderr_tx, stderr_rx) = mpsc::channel::<()>();
    if let Some(mut pipe) = child.stderr.take() {
        let buf = Arc::clone(&stderr_buf);
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut b = buf.lock().unwrap_or_else(|p| p.into_inner());
                        let room = STDERR_KEEP_BYTES.saturating_sub(b.len());
                        b.extend_from_slice(&chunk[..n.min(room)]);
                    }
                }
            }
            let _ = stderr_tx.send(());
        });
    }

    // stdout: up to the cap, then stop reading.
    let (stdout_tx, stdout_rx) = mpsc::channel::<Stdout>();
    if let Some(pipe) = child.stdout.take() {
        thread::spawn(move || {
            let mut out = Vec::new();
            let result = match pipe.take(MAX_OUTPUT_BYTES as u64 + 1).read_to_end(&mut out) {
                Err(e) => Stdout::Failed(e.to_string()),
                Ok(_) if out.len() > MAX_OUTPUT_BYTES => Stdout::TooLong,
                Ok(_) => Stdout::Done(out),
            };
            let _ = stdout_tx.send(result);
        });
    }

    let timed_out = |child: &mut Child| {
        kill_hook(child);
        HookError::TimedOut {
            hook: name.clone(),
            timeout_ms: hook.timeout_ms,
        }
    };
    let garbage = |why: String| HookError::Garbage {
        hook: name.clone(),
        why,
    };

    // 1. Its answer: stdout to its end (or the cap), within the deadline.
    let out = match stdout_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Stdout::Done(out)) => out,
        Ok(Stdout::TooLong) => {
            kill_hook(&mut child);
            return Err(garbage(format!(
                "more than {MAX_OUTPUT_BYTES} bytes on stdout"
            )));
        }
        Ok(Stdout::Failed(e)) => {
            kill_hook(&mut child);
            return Err(garbage(format!("reading stdout: {e}")));
        }
        Err(_) => return Err(timed_out(&mut child)),
    };

    // 2. Its exit, within the deadline.
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(_) => {
                // Cannot tell: treat it as still running.
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(timed_out(&mut child));
        }
        thread::sleep((deadline - now).min(Duration::from_millis(5)));
    };

    // 3. Judge it.
    if !status.success() {
        let _ = stderr_rx.recv_timeout(STDERR_GRACE);
        let raw = stderr_buf.lock().unwrap_or_else(|p| p.into_inner()).clone();
        return Err(HookError::Crashed {
            hook: name,
            status: describe(status),
            stderr: one_line(&String::from_utf8_lossy(&raw), MAX_STDERR_CHARS),
        });
    }
    parse_answer(&out, candidates, &name).map_err(|e| match e {
        AnswerError::Garbage(why) => garbage(why),
        AnswerError::Position(position) => HookError::BadPosition {
            hook: name.clone(),
            position,
            candidates: candidates.len(),
        },
    })
}

/// Kills a hook that is still running (its whole process group on Unix)
/// and reaps it. Must be called before the child is reaped, so the group
/// id is still the hook's.
fn kill_hook(child: &mut Child) {
    #[cfg(unix)]
    {
        if let Ok(pid) = libc::pid_t::try_from(child.id()) {
            // SAFETY: kill(2) takes plain integers and touches no memory of
            // ours. The group id is the hook's pid (process_group(0)); the
            // hook is not reaped yet, so the id cannot have been reused.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `exit status 3`, `signal 9`.
fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!("signal {sig}");
        }
    }
    status.to_string()
}

/// Text on one line (control characters become spaces, runs of blanks
/// one space), trimmed and cut to `max` characters (with `…`).
fn one_line(text: &str, max: usize) -> String {
    let mut s = String::new();
    for c in text.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && (s.is_empty() || s.ends_with(' ')) {
            continue;
        }
        s.push(c);
    }
    let s = s.trim_end();
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

enum AnswerError {
    Garbage(String),
    Position(u64),
}

/// Parses `{"adjustments":[{"position":N,"score":D,"veto":B,"reason":"…"}]}`.
/// Empty (or blank) output is no adjustments. Unknown keys are errors, so a
/// misspelt `veto` never goes unnoticed.
fn parse_answer(
    out: &[u8],
    candidates: &[Candidate],
    hook: &str,
) -> Result<Vec<Adjustment>, AnswerError> {
    let g = |s: String| AnswerError::Garbage(s);
    if out.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let doc: Value = serde_json::from_slice(out).map_err(|e| {
        let start = one_line(&String::from_utf8_lossy(&out[..out.len().min(400)]), 60);
        g(format!("not JSON ({e}): {start:?}"))
    })?;
    let Value::Object(top) = doc else {
        return Err(g("not a JSON object".into()));
    };
    if let Some(k) = top.keys().find(|k| *k != "adjustments") {
        return Err(g(format!("unknown key {k:?}")));
    }
    let Some(Value::Array(list)) = top.get("adjustments") else {
        return Err(g("no \"adjustments\" array".into()));
    };
    let positions: BTreeSet<usize> = candidates.iter().map(|c| c.position).collect();
    let mut adjustments = Vec::with_capacity(list.len());
    for (n, item) in list.iter().enumerate() {
        let Value::Object(a) = item else {
            return Err(g(format!("adjustment #{}: not an object", n + 1)));
        };
        if let Some(k) = a
            .keys()
            .find(|k| !matches!(k.as_str(), "position" | "score" | "veto" | "reason"))
        {
            return Err(g(format!("adjustment #{}: unknown key {k:?}", n + 1)));
        }
        let position = match a.get("position") {
            Some(Value::Number(p)) => p.as_u64().ok_or_else(|| {
                g(format!(
                    "adjustment #{}: position {p} is not a non-negative integer",
                    n + 1
                ))
            })?,
            Some(_) => {
                return Err(g(format!(
                    "adjustment #{}: position is not a number",
                    n + 1
                )))
            }
            None => return Err(g(format!("adjustment #{}: no position", n + 1))),
        };
        let position = usize::try_from(position)
            .ok()
            .filter(|p| positions.contains(p))
            .ok_or(AnswerError::Position(position))?;
        let delta = match a.get("score") {
            None | Some(Value::Null) => 0,
            Some(Value::Number(d)) => d.as_i64().ok_or_else(|| {
                g(format!(
                    "adjustment #{}: score {d} is not a 64-bit integer",
                    n + 1
                ))
            })?,
            Some(_) => return Err(g(format!("adjustment #{}: score is not a number", n + 1))),
        };
        let veto = match a.get("veto") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(v)) => *v,
            Some(_) => {
                return Err(g(format!(
                    "adjustment #{}: veto is not true or false",
                    n + 1
                )))
            }
        };
        let note = match a.get("reason") {
            None | Some(Value::Null) => None,
            Some(Value::String(r)) => Some(one_line(r, MAX_NOTE_CHARS)).filter(|r| !r.is_empty()),
            Some(_) => return Err(g(format!("adjustment #{}: reason is not a string", n + 1))),
        };
        adjustments.push(Adjustment {
            position,
            delta,
            veto,
            source: hook.to_owned(),
            note,
        });
    }
    Ok(adjustments)
}

/// Runs `hooks` on every candidate of `index` (as ranked by `base`, for
/// the node described by `facts`) and returns `base` with their
/// adjustments, and the warnings of failed hooks whose policy is
/// `ignore`. What `ocipick select` and the mirror (`ocipick serve`) both
/// do before selecting.
///
/// ```
/// use ocipick::{Index, Platform, Policy};
///
/// let index = Index::parse(br#"{"schemaVersion":2,"manifests":[
///   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,
///    "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
///    "platform":{"architecture":"amd64","os":"linux"}}]}"#)?;
/// let policy = Policy::new(&Platform::new("linux", "amd64", None));
/// // No hooks configured: the policy is unchanged, and nothing is run.
/// let (adjusted, warnings) =
///     ocipick_host::hooks::apply(&policy, &[], &ocipick_host::Facts::default(), &index)?;
/// assert!(warnings.is_empty());
/// assert_eq!(adjusted.select(&index).map(|s| s.position), Some(0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn apply(
    base: &Policy,
    hooks: &[HookSpec],
    facts: &crate::Facts,
    index: &Index<'_>,
) -> Result<(Policy, Vec<String>), HookError> {
    if hooks.is_empty() {
        return Ok((base.clone(), Vec::new()));
    }
    let candidates = candidates(index, &base.rank(index));
    let input = HookInput {
        target: base.target().to_string(),
        facts,
        index_media_type: index.media_type.as_deref(),
        candidates: &candidates,
    };
    let (adjustments, warnings) = run_hooks(hooks, &input)?;
    Ok((base.clone().with_adjustments(adjustments), warnings))
}

/// The hooks' view of `index`'s entries: each with its eligibility and
/// score under `ranking` (the base policy's, before any hook).
pub fn candidates(index: &Index<'_>, ranking: &Ranking) -> Vec<Candidate> {
    let mut by_position: Vec<Option<&Ranked>> = vec![None; index.manifests.len()];
    for e in &ranking.entries {
        by_position[e.position] = Some(e);
    }
    index
        .manifests
        .iter()
        .enumerate()
        .map(|(i, d)| Candidate {
            position: i,
            digest: d.digest.to_string(),
            media_type: d.media_type.to_string(),
            size: d.size,
            platform: d
                .platform
                .as_ref()
                .and_then(|p| serde_json::to_value(p).ok()),
            annotations: d
                .annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            eligible: by_position[i].is_some_and(|e| e.eligible),
            score: by_position[i].map_or(0, |e| e.score),
        })
        .collect()
}
