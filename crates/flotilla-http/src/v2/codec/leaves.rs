//! JSON tensor data read straight into a flat list of compact leaves: nested
//! or flat, the elements in row-major order, without a `serde_json::Value`
//! tree (32 bytes an element, plus a second list to flatten it).

use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One element as JSON gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Leaf {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(Box<str>),
    /// An object where an element was expected (always refused).
    Object,
}

/// The leaves of a tensor's `data`.
#[derive(Debug, Default, PartialEq)]
pub struct Leaves(pub Vec<Leaf>);

impl<'de> Deserialize<'de> for Leaves {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut out = Vec::new();
        Collect(&mut out).deserialize(deserializer)?;
        Ok(Leaves(out))
    }
}

struct Collect<'a>(&'a mut Vec<Leaf>);

impl<'de> DeserializeSeed<'de> for Collect<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Collect<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tensor data: values or (nested) arrays of values")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.push(Leaf::Null);
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        self.0.push(Leaf::Null);
        Ok(())
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.push(Leaf::Bool(v));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.push(Leaf::Int(v));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.push(match i64::try_from(v) {
            Ok(i) => Leaf::Int(i),
            Err(_) => Leaf::Uint(v),
        });
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.0.push(Leaf::Float(v));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.push(Leaf::Str(v.into()));
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Collect(&mut *self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.0.push(Leaf::Object);
        Ok(())
    }
}
