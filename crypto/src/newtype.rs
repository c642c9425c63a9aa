//! `u64` newtypes for the numbers the public APIs must not mix up: a rollup [`Namespace`],
//! a committee [`KeyEpoch`] (here), and a block height (`curtain::ledger::Height`, made with
//! the same macro).
//!
//! [`Namespace`]: crate::Namespace
//! [`KeyEpoch`]: crate::KeyEpoch

/// Defines a `u64` newtype: `Copy`, ordered, hashable, `Default` (zero), public field, built
/// with `From<u64>` and read with `.get()` (or `.0`). `Display` and `FromStr` are the
/// number's; serde is transparent (JSON: a bare number); `to_be_bytes` is the number's, so
/// binary encodings write the same 8 bytes as the `u64` did.
#[macro_export]
macro_rules! u64_newtype {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis struct $name(pub u64);

        impl $name {
            pub const fn new(value: u64) -> Self {
                Self(value)
            }

            pub const fn get(self) -> u64 {
                self.0
            }

            /// The number, big-endian (its canonical encoding).
            pub const fn to_be_bytes(self) -> [u8; 8] {
                self.0.to_be_bytes()
            }
        }

        impl ::core::convert::From<u64> for $name {
            fn from(value: u64) -> Self {
                Self(value)
            }
        }

        impl ::core::convert::From<$name> for u64 {
            fn from(value: $name) -> u64 {
                value.0
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = ::core::num::ParseIntError;
            fn from_str(s: &str) -> ::core::result::Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }

        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                serializer.serialize_u64(self.0)
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                <u64 as $crate::__private::serde::Deserialize<'de>>::deserialize(deserializer)
                    .map(Self)
            }
        }
    };
}

u64_newtype! {
    /// A rollup namespace: a u64, as in Espresso (see SPEC.md §Namespaces for the reasoning).
    pub struct Namespace;
}

u64_newtype! {
    /// A committee key's epoch: which key (of a committee's successive keys) a label is for.
    pub struct KeyEpoch;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_parses_and_serializes_as_the_number() {
        let ns = Namespace(42);
        assert_eq!(ns.to_string(), "42");
        assert_eq!("42".parse::<Namespace>(), Ok(ns));
        assert_eq!(serde_json::to_string(&ns).unwrap(), "42");
        assert_eq!(serde_json::from_str::<KeyEpoch>("7").unwrap(), KeyEpoch(7));
        assert_eq!(ns.to_be_bytes(), 42u64.to_be_bytes());
        assert_eq!(u64::from(KeyEpoch::from(9)), 9);
    }
}
