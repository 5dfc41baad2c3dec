//! Type tags: `Box<dyn Trait>` through typetag in every format, and the `Tagged` envelope.

use satchel::{Codec, ErrorKind, Tag, Tagged};
use satchel_tests::all_pipelines;
use serde::{Deserialize, Serialize};

#[typetag::serde(tag = "kind")]
trait ShapeInternal: std::fmt::Debug {
    fn area(&self) -> f64;
}

#[typetag::serde]
trait Shape: std::fmt::Debug {
    fn area(&self) -> f64;
}

#[derive(Serialize, Deserialize, Debug)]
struct Circle {
    r: f64,
}

#[derive(Serialize, Deserialize, Debug)]
struct Square {
    side: f64,
}

#[typetag::serde]
impl Shape for Circle {
    fn area(&self) -> f64 {
        3.0 * self.r * self.r
    }
}

#[typetag::serde]
impl Shape for Square {
    fn area(&self) -> f64 {
        self.side * self.side
    }
}

#[typetag::serde]
impl ShapeInternal for Circle {
    fn area(&self) -> f64 {
        3.0 * self.r * self.r
    }
}

#[test]
fn trait_objects_round_trip_in_every_pipeline() {
    let shapes: Vec<Box<dyn Shape>> =
        vec![Box::new(Circle { r: 2.0 }), Box::new(Square { side: 3.0 })];
    for codec in all_pipelines() {
        let bytes = codec.encode(&shapes).unwrap();
        let back: Vec<Box<dyn Shape>> = codec.decode(&bytes).unwrap();
        let areas: Vec<f64> = back.iter().map(|s| s.area()).collect();
        assert_eq!(areas, [12.0, 9.0], "{codec}");
    }
}

#[test]
fn internally_tagged_trait_objects_round_trip_too() {
    // typetag falls back to an external-style encoding in formats that are not
    // self-describing, so `tag = "kind"` works in bincode as well.
    let shape: Box<dyn ShapeInternal> = Box::new(Circle { r: 1.0 });
    for codec in all_pipelines() {
        let bytes = codec.encode(&shape).unwrap();
        let back: Box<dyn ShapeInternal> = codec.decode(&bytes).unwrap();
        assert_eq!(back.area(), 3.0, "{codec}");
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(tag = "type")]
enum Event {
    Login { user: String },
    Logout,
}

#[test]
fn serde_internally_tagged_enum_in_bincode_is_a_clear_error() {
    let event = Event::Login { user: "ann".into() };
    for spec in ["json", "msgpack+zstd"] {
        let codec: satchel::DynCodec = spec.parse().unwrap();
        let bytes = codec.encode(&event).unwrap();
        assert_eq!(codec.decode::<Event>(&bytes).unwrap(), event);
    }
    let codec = Codec::bincode();
    let bytes = codec.encode(&event).unwrap();
    let err = codec.decode::<Event>(&bytes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("self-describing"), "{err}");
}

#[test]
fn json_value_in_bincode_is_a_clear_error_not_garbage() {
    let value = serde_json::json!({"a": [1, 2, {"b": null}]});
    let codec = Codec::bincode().compress(satchel::Zstd);
    let bytes = codec.encode(&value).unwrap();
    let err = codec.decode::<serde_json::Value>(&bytes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.to_string().contains("use json or msgpack"), "{err}");
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct User {
    name: String,
}
impl Tag for User {
    const TAG: &'static str = "user";
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Order {
    name: String,
}
impl Tag for Order {
    const TAG: &'static str = "order";
}

#[test]
fn tagged_values_refuse_the_wrong_type_in_every_pipeline() {
    let user = User { name: "ann".into() };
    for codec in all_pipelines() {
        let bytes = codec.encode(&Tagged(&user)).unwrap();
        let back: Tagged<User> = codec.decode(&bytes).unwrap();
        assert_eq!(back.0, user, "{codec}");
        // Same shape, different tag: an error naming both, never a silent misread.
        let err = codec.decode::<Tagged<Order>>(&bytes).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{codec}");
        let cause = satchel::Report(&err).to_string();
        assert!(
            cause.contains("expected a value tagged `order`, found `user`"),
            "{codec}: {cause}"
        );
    }
}
