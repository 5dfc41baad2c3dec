"""BENCHMARKS.md's pipeline v2 sections (issue 17), for scripts/bench_report.py: trained
dictionaries (benches/benches/dict.rs) and sealed values (benches/benches/seal.rs)."""
import statistics

from bench_util import CHARTS, bar_chart, fmt_ns

DICT_LEVELS = [3, 19]
DICTS = [("", "no dictionary"), ("+dict-4KiB", "4 KiB, committed"), ("+dict-trained", "110 KiB, trained")]
DICT_SMALLER = 4.0  # issue 17: json+zstd with a trained dictionary ≥ 4× smaller than JSON
DICT_TIME = 1.2  # … and its encode + decode ≤ 1.2× the time without one
SEAL_COST = 1.10  # sealing adds ≤ 10% to a json+zstd round trip


def dict_section(w, est, sizes, charts, provenance=None):
    """## Trained dictionaries: benches/benches/dict.rs (sizes from its JSON file)."""
    if not sizes:
        return
    json_len = sizes["json"]
    w("## Trained dictionaries")
    w("")
    if provenance:
        w(provenance)
        w("")
    w(f"`benches/benches/dict.rs`: json+zstd of the ~750-byte session record ({json_len} bytes of JSON)")
    w("with no dictionary, with the 4 KiB dictionary committed for the tests, and with one trained")
    w("in the bench on 2,000 other records shaped like it the way `satchel train` trains one on a")
    w("store (its default size, 110 KiB), at levels 3 and 19. *vs JSON* is the JSON's size over the value's; *time* columns")
    w("are criterion medians; *vs none* is the round trip with the dictionary over the round trip")
    w("without one at the same level, both measured in 5 paired rounds (the median of the rounds'")
    w("ratios; *round trip* is the median over the rounds). Targets (issue 17): a trained dictionary ≥ 4× smaller than the")
    w("JSON; encode + decode with a dictionary ≤ 1.2× the time without.")
    w("")
    w("| pipeline | dictionary | bytes | vs JSON | target | encode | decode | round trip | vs none | target |")
    w("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |")
    groups = []
    for level in DICT_LEVELS:
        base = f"json+zstd:{level}"
        plain = est.get(("dict/750B", base, "round-trip"))
        if plain is None:
            plain = paired_rounds(est, "dict/750B", base, base)[0]
        bars = []
        for suffix, label in DICTS:
            name = base + suffix
            nbytes = sizes.get(name)
            if nbytes is None:
                continue
            smaller = json_len / nbytes
            size_mark = f"≥ {DICT_SMALLER:.0f} {'✓' if smaller >= DICT_SMALLER else '✗'}" if suffix == "+dict-trained" else ""
            times = [est.get(("dict/750B", name, op)) for op in ("encode", "decode", "round-trip")]
            _, trip, paired, _ = paired_rounds(est, "dict/750B", base, name)
            if trip is not None:
                times[2] = trip
            row = [f"`{name}`", label, str(nbytes), f"{smaller:.2f}×", size_mark]
            row += [fmt_ns(t) if t else "?" for t in times]
            if suffix and plain and times[2]:
                q = paired or times[2] / plain
                row += [f"{q:.2f}×", f"≤ {DICT_TIME} {'✓' if q <= DICT_TIME else '✗'}"]
            else:
                row += ["", ""]
            w("| " + " | ".join(row) + " |")
            bars.append((label, smaller))
        if bars:
            groups.append((f"json+zstd level {level}", bars))
    w("")
    by_level = sizes.get("by_level") or {}
    if by_level:
        w("Sizes at every level (bytes, and times smaller than the JSON), from the same run:")
        w("")
        w("| level | " + " | ".join(label for _, label in DICTS) + " |")
        w("| ---: | " + " | ".join("---:" for _ in DICTS) + " |")
        for level in sorted(by_level, key=int):
            row = by_level[level]
            cells = []
            for suffix, _ in DICTS:
                n = row.get(suffix.lstrip("+") or "none")
                cells.append(f"{n} ({json_len / n:.2f}×)" if n else "?")
            w(f"| {level} | " + " | ".join(cells) + " |")
        w("")
    if charts and groups:
        bar_chart(CHARTS / "dict.svg",
                  f"~750-byte session record: times smaller than its JSON (target ≥ {DICT_SMALLER:.0f}×)",
                  groups, "×", reference=DICT_SMALLER)
        w("![trained dictionaries](benchmarks/dict.svg)")
        w("")


def paired_rounds(est, group, a, b, op="round-trip"):
    """Medians of `a`'s and `b`'s times over the paired rounds a bench measured one after the
    other (`{op}-r0`, `{op}-r1`, …), and the median of the per-round ratios b / a; or the
    single measurement an older bench wrote under `op` itself."""
    pairs = []
    r = 0
    while (group, a, f"{op}-r{r}") in est and (group, b, f"{op}-r{r}") in est:
        pairs.append((est[(group, a, f"{op}-r{r}")], est[(group, b, f"{op}-r{r}")]))
        r += 1
    if not pairs:
        x, y = est.get((group, a, op)), est.get((group, b, op))
        return x, y, (y / x if x and y else None), 0
    return (statistics.median(p for p, _ in pairs), statistics.median(q for _, q in pairs),
            statistics.median(q / p for p, q in pairs), len(pairs))


def seal_section(w, est, sizes, provenance=None):
    """## Sealed values: benches/benches/seal.rs."""
    plain, sealed, ratio, rounds = paired_rounds(est, "seal/750B", "json+zstd", "json+zstd+seal")
    if plain is None and sealed is None and not sizes:
        return
    w("## Sealed values")
    w("")
    if provenance:
        w(provenance)
        w("")
    w("`benches/benches/seal.rs`: a json+zstd round trip (encode + decode) of the ~750-byte session")
    w("record, next to the same round trip sealed (ChaCha20-Poly1305 under a one-key ring, bound to")
    w("a 60-byte store key: `encode_keyed` / `decode_keyed`), criterion medians. Target (issue 17):")
    w(f"sealing adds ≤ {(SEAL_COST - 1) * 100:.0f}%.")
    if rounds:
        w(f"The two are measured in {rounds} paired rounds, one right after the other; *round trip* is")
        w("the median over the rounds, *vs json+zstd* the median of the rounds' ratios (back to back,")
        w("three unpaired runs of the same build gave 1.08×, 1.52× and 1.32×: the machine drifts).")
    w("")
    w("| pipeline | bytes | round trip | vs json+zstd | target |")
    w("| --- | ---: | ---: | ---: | --- |")
    sizes = sizes or {}
    for name, t in [("json+zstd", plain), ("json+zstd+seal", sealed)]:
        row = [f"`{name}`", str(sizes.get(name, "?")), fmt_ns(t) if t else "?"]
        if name.endswith("+seal") and ratio:
            q = ratio
            row += [f"{q:.2f}× ({(q - 1) * 100:+.1f}%)", f"≤ {SEAL_COST:.2f} {'✓' if q <= SEAL_COST else '✗'}"]
        else:
            row += ["", ""]
        w("| " + " | ".join(row) + " |")
    w("")
    cipher = est.get(("seal/750B", "cipher", "seal-open"))
    copy = est.get(("seal/750B", "cipher", "copy"))
    if cipher and plain and sealed:
        cost = cipher - (copy or 0)
        w(f"What sealing costs, measured in the same run: {fmt_ns(sealed - plain)} a round trip "
          f"(sealed minus plain medians), of which the cipher itself (a nonce, ChaCha20-Poly1305 "
          f"seal and open of the compressed payload with a sealed value's associated "
          f"data, less the copy the bench makes) is {fmt_ns(cost)}, "
          f"{cost / plain * 100:.1f}% of the plain round trip: the floor for sealing with this "
          "cipher as the key ring runs it (a key built for each call, a fork check per nonce).")
        w("")
    if "json+zstd" in sizes and "json+zstd+seal" in sizes:
        extra = sizes["json+zstd+seal"] - sizes["json+zstd"]
        why = (": the extended header (3 bytes more than the compact one), the key id (4), the nonce"
               " (12) and the tag (16); see docs/codecs.md") if extra == 35 else ""
        w(f"A sealed value is {extra} bytes longer{why}.")
        w("")
