//! The measuring loop: tasks for a fixed time, the median of the runs, p50/p99, JSON lines.

#[allow(unused_imports)]
use super::*;

pub(crate) const KEYS: usize = 1000;

pub(crate) struct Settings {
    pub(crate) duration: Duration,
    pub(crate) runs: usize,
    pub(crate) out: String,
}

#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) ops_per_sec: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    /// CPU time this process (the client) spent per operation, µs.
    pub(crate) client_cpu_us: f64,
    /// CPU time the whole machine spent per operation (client, server, everything else), µs.
    pub(crate) machine_cpu_us: f64,
}

/// Clock ticks per second of /proc's CPU counters (USER_HZ: 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// CPU ticks (user + system) this process has used: /proc/self/stat fields 14 and 15.
fn process_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // `rest` starts at field 3 (state): utime is field 14, stime 15.
    field(11) + field(12)
}

/// CPU ticks the whole machine has spent busy: /proc/stat's `cpu` line without idle and
/// iowait.
fn machine_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or("");
    line.split_whitespace()
        .skip(1)
        .enumerate()
        // user nice system idle iowait irq softirq steal (guest time is inside user)
        .filter(|(i, _)| *i < 8 && *i != 3 && *i != 4)
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum()
}

pub(crate) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// Runs `op` from `concurrency` tasks for `duration`; returns ops/s and latencies.
pub(crate) async fn measure<F, Fut>(concurrency: usize, duration: Duration, op: F) -> Stats
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let (process0, machine0) = (process_ticks(), machine_ticks());
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(4096);
            let mut i = t * 7919;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                op(t, i % KEYS).await;
                lat.push(t0.elapsed().as_nanos() as u64);
                i += 1;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("bench task"));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (process1, machine1) = (process_ticks(), machine_ticks());
    let ops = all.len().max(1) as f64;
    let per_op = |ticks: u64| ticks as f64 / TICKS_PER_SEC * 1e6 / ops;
    all.sort_unstable();
    Stats {
        ops_per_sec: all.len() as f64 / elapsed,
        p50_us: percentile(&all, 0.50),
        p99_us: percentile(&all, 0.99),
        client_cpu_us: per_op(process1.saturating_sub(process0)),
        machine_cpu_us: per_op(machine1.saturating_sub(machine0)),
    }
}

pub(crate) async fn median_of<F, Fut>(settings: &Settings, concurrency: usize, op: F) -> Stats
where
    F: Fn(usize, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut runs = Vec::new();
    for _ in 0..settings.runs {
        runs.push(measure(concurrency, settings.duration, op.clone()).await);
    }
    runs.sort_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec));
    runs.swap_remove(runs.len() / 2)
}

pub(crate) fn emit(out: &mut Vec<String>, fields: serde_json::Value, s: &Stats) {
    let mut v = fields;
    v["ops_per_sec"] = s.ops_per_sec.into();
    v["p50_us"] = s.p50_us.into();
    v["p99_us"] = s.p99_us.into();
    v["client_cpu_us"] = s.client_cpu_us.into();
    v["machine_cpu_us"] = s.machine_cpu_us.into();
    println!("{v}");
    out.push(v.to_string());
}
