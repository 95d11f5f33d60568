//! String enums that keep values they do not know.
//!
//! Twilio adds codecs, room types and statuses over time. A receiver that rejected an unknown value would
//! lose a callback; these enums map the documented spellings to variants and keep anything else verbatim
//! in `Other`, so a new value is stored and forwarded rather than refused.

/// Declares an open string enum: documented variants, an `Other(String)` catch-all, case-insensitive
/// parsing, the canonical spelling on output, and serde as a plain string.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value the specification does not list, kept exactly as received.
            Other(String),
        }

        impl $name {
            /// Every documented value, in the specification's order.
            pub const DOCUMENTED: &'static [&'static str] = &[$($text),+];

            /// The documented spelling, or the value as received for `Other`.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )+
                    Self::Other(value) => value,
                }
            }

            /// Whether this is one of the documented values.
            pub fn is_documented(&self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                $( if value.eq_ignore_ascii_case($text) { return Self::$variant; } )+
                Self::Other(value.to_owned())
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Ok(Self::from(value.as_str()))
            }
        }
    };
}

pub(crate) use open_enum;
