//! `satchel advise`: every compiled-in pipeline measured on your data, and a pick.
//!
//! Each pipeline encodes the sample values and decodes them back (into JSON values, as
//! every command does: typed decoding in a program is faster) `--runs` times; the table
//! shows the median times. Ratios are against the compact JSON of the samples, so
//! whitespace in the files does not count.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use satchel::{Compression, DynCodec, FORMAT_NAMES, Format};
use serde_json::{Value, json};

use crate::Global;
use crate::error::{CliError, CliResult, chain, code};
use crate::util::{Progress, Table, parse_json, print_json, println, read_input};
use crate::value;

/// Compressions tried with every format: each one at its default level, plus the
/// fastest and smallest settings of zstd and gzip.
const COMPRESSIONS: &[&str] = &[
    "", "lz4", "zstd:1", "zstd", "zstd:19", "gzip:1", "gzip", "gzip:9", "zlib",
];

/// Arguments of `satchel advise`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Sample JSON files, one value each, like the ones you will store.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Write an SVG scatter plot of ratio against round-trip speed here.
    #[arg(long, value_name = "OUT.svg")]
    plot: Option<PathBuf>,
    /// Also measure each zstd pipeline with a dictionary trained on the samples (one per
    /// format, on its serialized bytes; needs 8 or more files). Trained and measured on the
    /// same samples, so the gain shown is an upper bound: train on a store with `satchel
    /// train` for the real one.
    #[arg(long)]
    train: bool,
    /// Timed runs per pipeline (the median is shown).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: u32,
}

/// One pipeline's measurements.
struct Measured {
    name: String,
    bytes: usize,
    ratio: f64,
    encode_mbps: f64,
    decode_mbps: f64,
    /// Input bytes per second through encode then decode, in MB/s.
    round_trip_mbps: f64,
}

/// Measures and recommends.
pub(crate) async fn run(args: Args, global: &Global) -> CliResult {
    let mut samples = Vec::new();
    for file in &args.files {
        let bytes = read_input(Some(file))?;
        samples.push(parse_json(&bytes, &format!("`{}`", file.display()))?);
    }
    let baseline: usize = samples
        .iter()
        .map(|v| serde_json::to_vec(v).map_or(0, |b| b.len()))
        .sum();
    let mut codecs = pipelines()?;
    if args.train {
        codecs.extend(with_dictionaries(&codecs, &samples)?);
    }
    let mut progress = Progress::new("advise", codecs.len() as u64, global.json);
    let mut results = Vec::new();
    for codec in &codecs {
        progress.message(&codec.to_string());
        results.push(measure(codec, &samples, baseline, args.runs)?);
        progress.inc();
    }
    progress.finish();

    let pick = Picks::new(&results);
    if let Some(path) = &args.plot {
        std::fs::write(path, svg(&results, &pick)).map_err(|e| {
            CliError::new(
                code::FAILURE,
                format!("cannot write `{}`: {e}", path.display()),
            )
        })?;
    }
    if global.json {
        return print_json(&json!({
            "input_json_bytes": baseline,
            "runs": args.runs,
            "pipelines": results.iter().map(|m| json!({
                "pipeline": m.name,
                "bytes": m.bytes,
                "ratio": round3(m.ratio),
                "encode_mb_s": round3(m.encode_mbps),
                "decode_mb_s": round3(m.decode_mbps),
                "round_trip_mb_s": round3(m.round_trip_mbps),
            })).collect::<Vec<_>>(),
            "recommend": {
                "size": results[pick.size].name,
                "speed": results[pick.speed].name,
                "balance": results[pick.balance].name,
            },
        }));
    }
    let mut table = Table::new(
        &["pipeline", "bytes", "ratio", "encode MB/s", "decode MB/s"],
        &["bytes", "ratio", "encode MB/s", "decode MB/s"],
    );
    for m in &results {
        table.row(vec![
            m.name.clone(),
            m.bytes.to_string(),
            format!("{:.2}x", m.ratio),
            format!("{:.1}", m.encode_mbps),
            format!("{:.1}", m.decode_mbps),
        ]);
    }
    println(format_args!(
        "{} file(s), {baseline} bytes of compact JSON; median of {} runs; decoding into JSON values",
        args.files.len(),
        args.runs
    ))?;
    std::io::Write::write_all(&mut std::io::stdout().lock(), table.render().as_bytes())?;
    let [size, speed, balance] = [pick.size, pick.speed, pick.balance].map(|i| &results[i]);
    println(format_args!(
        "\nsmallest: {} ({:.2}x)\nfastest:  {} ({:.1} MB/s encode + decode)\nbalanced: {} \
         ({:.2}x, {:.1} MB/s: best ratio x speed, each relative to the best)",
        size.name,
        size.ratio,
        speed.name,
        speed.round_trip_mbps,
        balance.name,
        balance.ratio,
        balance.round_trip_mbps
    ))?;
    if let Some(path) = &args.plot {
        println(format_args!("plot written to {}", path.display()))?;
    }
    Ok(())
}

/// Every format × compression compiled in, named by spec.
fn pipelines() -> CliResult<Vec<DynCodec>> {
    let mut codecs: Vec<DynCodec> = Vec::new();
    for format in FORMAT_NAMES {
        for compression in COMPRESSIONS {
            let spec = if compression.is_empty() {
                format.to_string()
            } else {
                format!("{format}+{compression}")
            };
            match spec.parse::<DynCodec>() {
                Ok(codec) if !codecs.iter().any(|c| c.to_string() == codec.to_string()) => {
                    codecs.push(codec);
                }
                Ok(_) => {}
                // A backend this build lacks is simply not measured.
                Err(e) if e.kind() == satchel::ErrorKind::Unsupported => {}
                Err(e) => return Err(CliError::spec(&e)),
            }
        }
    }
    Ok(codecs)
}

/// Each zstd pipeline of `codecs` again, with a dictionary trained on the samples as its
/// format serializes them.
fn with_dictionaries(codecs: &[DynCodec], samples: &[Value]) -> CliResult<Vec<DynCodec>> {
    if samples.len() < 8 {
        return Err(CliError::new(
            code::USAGE,
            format!(
                "--train needs 8 or more sample files to train a dictionary on, got {}",
                samples.len()
            ),
        ));
    }
    let fail = |what: String, e: &satchel::Error| {
        CliError::new(code::FAILURE, format!("{what}: {}", chain(e)))
    };
    let mut out = Vec::new();
    for format in FORMAT_NAMES {
        let Ok(plain) = format.parse::<DynCodec>() else {
            continue;
        };
        let mut raws = Vec::new();
        for sample in samples {
            let bytes = value::encode(&plain, sample, "")
                .map_err(|e| fail(format!("cannot serialize a sample as {format}"), &e))?;
            let (_, payload) = satchel::Header::parse(&bytes)
                .map_err(|e| fail(format!("cannot serialize a sample as {format}"), &e))?;
            raws.push(payload.to_vec());
        }
        let total: usize = raws.iter().map(Vec::len).sum();
        let size = satchel::DEFAULT_DICT_SIZE.min(total / 8).max(256);
        let trained = satchel::train(&raws, size)
            .map_err(|e| fail(format!("cannot train a {format} dictionary"), &e))?;
        let dict = satchel::ZstdDict::load(&trained)
            .map_err(|e| fail(format!("the {format} dictionary does not load"), &e))?;
        for codec in codecs {
            if codec.format().name() == *format && codec.compression().name() == "zstd" {
                let spec = format!("{codec}@dict=id:{}", dict.id());
                out.push(spec.parse().map_err(|e| CliError::spec(&e))?);
            }
        }
    }
    Ok(out)
}

fn measure(codec: &DynCodec, samples: &[Value], baseline: usize, runs: u32) -> CliResult<Measured> {
    let fail = |what: &str, e: &satchel::Error| {
        CliError::new(
            code::FAILURE,
            format!("{codec}: cannot {what} the samples: {}", chain(e)),
        )
    };
    let mut encode_times = Vec::new();
    let mut decode_times = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let encoded = samples
            .iter()
            .map(|v| value::encode(codec, v, ""))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail("encode", &e))?;
        encode_times.push(start.elapsed());
        bytes = encoded.iter().map(Vec::len).sum();
        let start = Instant::now();
        for (encoded, sample) in encoded.iter().zip(samples) {
            let back = value::decode_with(codec, encoded, "").map_err(|e| fail("decode", &e))?;
            if back.is_null() != sample.is_null() {
                return Err(CliError::new(
                    code::FAILURE,
                    format!("{codec}: round trip changed a sample"),
                ));
            }
        }
        decode_times.push(start.elapsed());
    }
    let (enc, dec) = (median(encode_times), median(decode_times));
    let mbps = |d: Duration| baseline as f64 / d.as_secs_f64().max(1e-9) / 1e6;
    Ok(Measured {
        name: codec.to_string(),
        bytes,
        ratio: baseline as f64 / bytes.max(1) as f64,
        encode_mbps: mbps(enc),
        decode_mbps: mbps(dec),
        round_trip_mbps: mbps(enc + dec),
    })
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The recommended pipelines, as indexes into the results.
struct Picks {
    size: usize,
    speed: usize,
    balance: usize,
}

impl Picks {
    fn new(results: &[Measured]) -> Self {
        let best = |score: &dyn Fn(&Measured) -> f64| {
            (0..results.len())
                .max_by(|&a, &b| score(&results[a]).total_cmp(&score(&results[b])))
                .unwrap_or(0)
        };
        let max_ratio = results.iter().map(|m| m.ratio).fold(f64::MIN, f64::max);
        let max_speed = results
            .iter()
            .map(|m| m.round_trip_mbps)
            .fold(f64::MIN, f64::max);
        Self {
            size: best(&|m| m.ratio + m.round_trip_mbps * 1e-12),
            speed: best(&|m| m.round_trip_mbps),
            balance: best(&|m| (m.ratio / max_ratio) * (m.round_trip_mbps / max_speed)),
        }
    }
}

/// An SVG scatter plot: compression ratio (y) against round-trip speed (x, log scale),
/// one labelled point per pipeline, the picks highlighted.
fn svg(results: &[Measured], pick: &Picks) -> String {
    const W: f64 = 900.0;
    const H: f64 = 560.0;
    const LEFT: f64 = 70.0;
    const RIGHT: f64 = 30.0;
    const TOP: f64 = 50.0;
    const BOTTOM: f64 = 60.0;
    let speeds = results.iter().map(|m| m.round_trip_mbps.max(1e-3));
    let lo = speeds.clone().fold(f64::MAX, f64::min).log10().floor();
    let hi = speeds.fold(f64::MIN, f64::max).log10().ceil().max(lo + 1.0);
    let max_ratio = results.iter().map(|m| m.ratio).fold(1.0, f64::max);
    let y_step = nice_step(max_ratio / 6.0);
    let y_max = (max_ratio / y_step).ceil() * y_step;
    let x = |speed: f64| LEFT + (speed.max(1e-3).log10() - lo) / (hi - lo) * (W - LEFT - RIGHT);
    let y = |ratio: f64| H - BOTTOM - ratio / y_max * (H - TOP - BOTTOM);

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" font-size="15" text-anchor="middle">satchel advise: ratio vs. encode + decode speed</text>"#,
        W / 2.0
    );
    // Axes, grid and ticks.
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
    let _ = writeln!(
        s,
        r#"<path d="M{x0} {y1} L{x0} {y0} L{x1} {y0}" fill="none" stroke="black"/>"#
    );
    let mut decade = lo;
    while decade <= hi {
        for m in [1.0, 2.0, 5.0] {
            let v = 10f64.powf(decade) * m;
            if v.log10() > hi + 1e-9 {
                break;
            }
            let px = x(v);
            let _ = writeln!(
                s,
                r##"<line x1="{px:.1}" y1="{y1}" x2="{px:.1}" y2="{y0}" stroke="#ddd"/><text x="{px:.1}" y="{}" text-anchor="middle">{}</text>"##,
                y0 + 16.0,
                trim_number(v)
            );
        }
        decade += 1.0;
    }
    let mut r = 0.0;
    while r <= y_max + 1e-9 {
        let py = y(r);
        let _ = writeln!(
            s,
            r##"<line x1="{x0}" y1="{py:.1}" x2="{x1}" y2="{py:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}x</text>"##,
            x0 - 6.0,
            py + 4.0,
            trim_number(r)
        );
        r += y_step;
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">encode + decode speed, MB/s of input JSON (log scale)</text>"#,
        (x0 + x1) / 2.0,
        H - 18.0
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(18 {}) rotate(-90)" text-anchor="middle">compression ratio vs. compact JSON</text>"#,
        (y0 + y1) / 2.0
    );
    // Points, then labels placed where they overlap no label placed before.
    let mut placed: Vec<(f64, f64, f64, f64)> = Vec::new();
    for (i, m) in results.iter().enumerate() {
        let (px, py) = (x(m.round_trip_mbps), y(m.ratio));
        let picked = [pick.size, pick.speed, pick.balance].contains(&i);
        let color = format_color(&m.name);
        let width = 6.2 * m.name.chars().count() as f64;
        let (lx, ly) = [-5.0, 9.0, -17.0, 21.0, -29.0, 33.0]
            .iter()
            .map(|dy| (px + 7.0, py + dy))
            .find(|&(lx, ly)| {
                placed.iter().all(|&(ox, oy, ow, oh)| {
                    lx + width < ox || ox + ow < lx || ly < oy - oh || oy < ly - 11.0
                })
            })
            .unwrap_or((px + 7.0, py - 5.0));
        placed.push((lx, ly, width, 11.0));
        let _ = writeln!(
            s,
            r#"<g class="point"><circle cx="{px:.1}" cy="{py:.1}" r="{}" fill="{color}" stroke="black" stroke-width="{}"><title>{}: {:.2}x, {:.1} MB/s</title></circle><text x="{lx:.1}" y="{ly:.1}">{}</text></g>"#,
            if picked { 6 } else { 4 },
            if picked { 2 } else { 0 },
            escape(&m.name),
            m.ratio,
            m.round_trip_mbps,
            escape(&m.name)
        );
    }
    // Legend.
    let mut ly = TOP + 10.0;
    for format in FORMAT_NAMES {
        let _ = writeln!(
            s,
            r#"<rect x="{}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{}" y="{:.1}">{format}</text>"#,
            W - RIGHT - 150.0,
            ly - 9.0,
            format_color(format),
            W - RIGHT - 135.0,
            ly
        );
        ly += 16.0;
    }
    let _ = writeln!(
        s,
        r#"<rect x="{}" y="{:.1}" width="12" height="12" rx="6" fill="white" stroke="black" stroke-width="2"/><text x="{}" y="{:.1}">recommended</text>"#,
        W - RIGHT - 151.0,
        ly - 10.0,
        W - RIGHT - 135.0,
        ly
    );
    s.push_str("</svg>\n");
    s
}

/// The colour of a pipeline's format in the plot.
fn format_color(pipeline: &str) -> &'static str {
    match pipeline.split('+').next() {
        Some("json") => "#1f77b4",
        Some("msgpack") => "#ff7f0e",
        _ => "#2ca02c",
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1e-6);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * power)
}

fn trim_number(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
