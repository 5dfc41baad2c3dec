//! The numbers of JSON and Coherence: JSON integers and floats, and Coherence's
//! `math.BigInt` / `math.BigDec` objects (`{"@class": "math.BigDec", "value": "1.50"}`);
//! their order and the arithmetic processors and aggregators do.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::value::{BIG_DEC_CLASS, BIG_INT_CLASS};

/// The largest scale (digits after the point) a decimal keeps.
const MAX_SCALE: u32 = 60;

/// A decimal: `mantissa × 10^-scale`, exact within an `i128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decimal {
    mantissa: i128,
    scale: u32,
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

impl Decimal {
    pub(crate) const ZERO: Self = Self {
        mantissa: 0,
        scale: 0,
    };

    pub(crate) fn from_int(i: i128) -> Self {
        Self {
            mantissa: i,
            scale: 0,
        }
    }

    /// Parses `12`, `-1.50`, `1.5e-3`, `2E+4`; `None` past 38 digits or the scale limit.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (digits, exp) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], s[i + 1..].parse::<i64>().ok()?),
            None => (s, 0),
        };
        let (neg, digits) = match digits.as_bytes().first()? {
            b'-' => (true, &digits[1..]),
            b'+' => (false, &digits[1..]),
            _ => (false, digits),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let mut mantissa: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            if !b.is_ascii_digit() {
                return None;
            }
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(i128::from(b - b'0'))?;
        }
        let mut scale = i64::try_from(frac.len()).ok()?.checked_sub(exp)?;
        if scale < 0 {
            mantissa = mantissa.checked_mul(pow10(u32::try_from(scale.checked_neg()?).ok()?)?)?;
            scale = 0;
        }
        let scale = u32::try_from(scale).ok().filter(|s| *s <= MAX_SCALE)?;
        Some(Self {
            mantissa: if neg { -mantissa } else { mantissa },
            scale,
        })
    }

    /// The shortest decimal that reads back as `f`; `None` if not finite.
    pub(crate) fn from_f64(f: f64) -> Option<Self> {
        f.is_finite()
            .then(|| Self::parse(&format!("{f:e}")))
            .flatten()
    }

    fn rescale(self, scale: u32) -> Option<i128> {
        self.mantissa
            .checked_mul(pow10(scale.checked_sub(self.scale)?)?)
    }

    pub(crate) fn checked_add(self, other: Self) -> Option<Self> {
        let scale = self.scale.max(other.scale);
        Some(Self {
            mantissa: self.rescale(scale)?.checked_add(other.rescale(scale)?)?,
            scale,
        })
    }

    pub(crate) fn checked_mul(self, other: Self) -> Option<Self> {
        let scale = self.scale + other.scale;
        (scale <= MAX_SCALE).then_some(())?;
        Some(Self {
            mantissa: self.mantissa.checked_mul(other.mantissa)?,
            scale,
        })
    }

    /// `self / n`, rounded half up to `max(scale, min_scale)` digits after the point.
    pub(crate) fn div_round(self, n: i128, min_scale: u32) -> Option<Self> {
        let scale = self.scale.max(min_scale);
        let num = self.rescale(scale)?;
        let (q, r) = (num.checked_div(n)?, num.checked_rem(n)?);
        let round = r.checked_abs()?.checked_mul(2)? >= n.checked_abs()?;
        let sign = if (num < 0) != (n < 0) { -1 } else { 1 };
        Some(Self {
            mantissa: if round { q + sign } else { q },
            scale,
        })
    }

    fn to_f64(self) -> f64 {
        self.to_string().parse().unwrap_or(f64::NAN)
    }

    /// Without trailing zeros after the point (`3.00` → `3`).
    pub(crate) fn normalized(mut self) -> Self {
        while self.scale > 0 && self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.scale -= 1;
        }
        self
    }

    fn cmp_with(self, other: Self) -> Ordering {
        let scale = self.scale.max(other.scale);
        match (self.rescale(scale), other.rescale(scale)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self.to_f64().total_cmp(&other.to_f64()),
        }
    }
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = self.mantissa.unsigned_abs().to_string();
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int}.{frac}")
    }
}

/// A number of any representation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    Int(i128),
    Float(f64),
    Dec(Decimal),
}

impl Num {
    /// The number `v` holds: a JSON number, or a `math.BigInt` / `math.BigDec` object.
    pub(crate) fn of(v: &Value) -> Option<Self> {
        match v {
            Value::Number(n) => n
                .as_i64()
                .map(|i| Self::Int(i.into()))
                .or_else(|| n.as_u64().map(|u| Self::Int(u.into())))
                .or_else(|| n.as_f64().map(Self::Float)),
            Value::Object(o) => {
                let class = o.get("@class")?.as_str()?;
                if class != BIG_INT_CLASS && class != BIG_DEC_CLASS {
                    return None;
                }
                let text = o.get("value")?.as_str()?;
                match Decimal::parse(text) {
                    Some(d) if d.scale == 0 => Some(Self::Int(d.mantissa)),
                    Some(d) => Some(Self::Dec(d)),
                    None => text.parse::<f64>().ok().map(Self::Float),
                }
            }
            _ => None,
        }
    }

    pub(crate) fn to_decimal(self) -> Option<Decimal> {
        match self {
            Self::Int(i) => Some(Decimal::from_int(i)),
            Self::Float(f) => Decimal::from_f64(f),
            Self::Dec(d) => Some(d),
        }
    }

    pub(crate) fn to_f64(self) -> f64 {
        match self {
            // Rounds past 2^53, as Java's long-to-double does.
            #[allow(clippy::cast_precision_loss)]
            Self::Int(i) => i as f64,
            Self::Float(f) => f,
            Self::Dec(d) => d.to_f64(),
        }
    }

    /// The order of two numbers (floats by `f64::total_cmp`).
    pub(crate) fn order(&self, other: &Self) -> Ordering {
        match (*self, *other) {
            (Self::Int(a), Self::Int(b)) => a.cmp(&b),
            (Self::Float(_), _) | (_, Self::Float(_)) => self.to_f64().total_cmp(&other.to_f64()),
            (a, b) => match (a.to_decimal(), b.to_decimal()) {
                (Some(a), Some(b)) => a.cmp_with(b),
                _ => a.to_f64().total_cmp(&b.to_f64()),
            },
        }
    }

    /// `self + other`, or `self × other`: integers stay integers (`None` past an `i128`),
    /// a float makes a float, a decimal a decimal.
    pub(crate) fn combine(self, other: Self, multiply: bool) -> Option<Self> {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => if multiply {
                a.checked_mul(b)
            } else {
                a.checked_add(b)
            }
            .map(Self::Int),
            (Self::Float(_), _) | (_, Self::Float(_)) => {
                let (a, b) = (self.to_f64(), other.to_f64());
                Some(Self::Float(if multiply { a * b } else { a + b }))
            }
            (a, b) => {
                let (a, b) = (a.to_decimal()?, b.to_decimal()?);
                if multiply {
                    a.checked_mul(b)
                } else {
                    a.checked_add(b)
                }
                .map(Self::Dec)
            }
        }
    }

    /// As JSON: integers within a signed 64 bits and finite floats as JSON numbers, larger integers
    /// as `math.BigInt`, decimals as `math.BigDec`; `None` for a float that is not finite
    /// (JSON has no such number).
    pub(crate) fn to_value(self) -> Option<Value> {
        match self {
            // As the Python client writes integers past 64 bits.
            Self::Int(i) => Some(match i64::try_from(i) {
                Ok(i) => Value::from(i),
                Err(_) => classed(BIG_INT_CLASS, i.to_string()),
            }),
            Self::Float(f) => serde_json::Number::from_f64(f).map(Value::Number),
            Self::Dec(d) => Some(big_dec(d)),
        }
    }
}

/// `{"@class": class, "value": text}`.
fn classed(class: &str, text: String) -> Value {
    let mut m = Map::new();
    m.insert("@class".into(), Value::String(class.into()));
    m.insert("value".into(), Value::String(text));
    Value::Object(m)
}

/// A `math.BigDec`, what the Python client reads as a `Decimal`.
pub(crate) fn big_dec(d: Decimal) -> Value {
    classed(BIG_DEC_CLASS, d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimals_parse_print_and_divide() {
        assert_eq!(Decimal::parse("-1.50").unwrap().to_string(), "-1.50");
        assert_eq!(Decimal::parse("1.5e-3").unwrap().to_string(), "0.0015");
        assert_eq!(Decimal::parse("2E+2").unwrap().to_string(), "200");
        assert_eq!(Decimal::from_f64(185.5).unwrap().to_string(), "185.5");
        assert_eq!(Decimal::parse("x"), None);
        assert_eq!(Decimal::parse("1e999"), None);
        assert_eq!(Decimal::parse("1e-9223372036854775808"), None);
        assert_eq!(Decimal::parse("1e9223372036854775807"), None);
        let avg = Decimal::from_int(267).div_round(7, 8).unwrap();
        assert_eq!(avg.to_string(), "38.14285714");
        let neg = Decimal::from_int(-5).div_round(2, 0).unwrap();
        assert_eq!(neg.to_string(), "-3");
        assert_eq!(
            Decimal::parse("3.000").unwrap().normalized().to_string(),
            "3"
        );
    }

    #[test]
    fn arithmetic_keeps_the_kind() {
        let n = |v: Value| Num::of(&v).unwrap();
        let sum = n(json!(123)).combine(n(json!(2)), false).unwrap();
        assert_eq!(sum.to_value(), Some(json!(125)));
        let product = n(json!(1.5)).combine(n(json!(2)), true).unwrap();
        assert_eq!(product.to_value(), Some(json!(3.0)));
        let dec = n(json!({"@class": "math.BigDec", "value": "1.25"}))
            .combine(n(json!(1)), false)
            .unwrap();
        assert_eq!(
            dec.to_value(),
            Some(json!({"@class": "math.BigDec", "value": "2.25"}))
        );
        let big = n(json!(i64::MAX))
            .combine(n(json!(i64::MAX)), false)
            .unwrap();
        assert_eq!(
            big.to_value(),
            Some(json!({"@class": "math.BigInt", "value": "18446744073709551614"}))
        );
    }
}
