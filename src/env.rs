//! Configuration values, read the same way by every program: from the process environment (or a map in
//! tests), trimmed, an empty value counting as unset; and the one error type a program that cannot start
//! reports, naming the variable and what to put in it.

/// Why a program cannot start. The message says what to set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is absent or empty.
    #[error("{name} is not set: {hint}")]
    Missing {
        /// The variable.
        name: &'static str,
        /// What it should hold.
        hint: &'static str,
    },
    /// A variable holds something unusable.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// An SSM parameter could not be read or does not hold what it should.
    #[error("could not read the SSM parameter {parameter}: {reason}")]
    Ssm {
        /// The parameter's name (never its value).
        parameter: String,
        /// Why.
        reason: String,
    },
}

/// Where settings come from: `|name| std::env::var(name).ok()` in a program, a map in tests.
pub trait Lookup {
    /// The raw value of `name`, if any.
    fn raw(&self, name: &str) -> Option<String>;

    /// The value of `name`, trimmed; `None` when absent or blank.
    fn get(&self, name: &str) -> Option<String> {
        self.raw(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    /// The value of `name`, or [`ConfigError::Missing`] with `hint`.
    fn require(&self, name: &'static str, hint: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing { name, hint })
    }

    /// The whole number in `name`, if set; [`ConfigError::Invalid`] outside `range`, whose bounds the
    /// message gives with `unit`.
    fn whole_number(
        &self,
        name: &'static str,
        range: std::ops::RangeInclusive<u64>,
        unit: &str,
    ) -> Result<Option<u64>, ConfigError> {
        self.get(name)
            .map(|value| match value.parse::<u64>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => Err(ConfigError::Invalid {
                    name,
                    reason: format!(
                        "{value:?} is not a whole number of {unit} from {} to {}",
                        range.start(),
                        range.end()
                    ),
                }),
            })
            .transpose()
    }
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn raw(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// The process environment.
pub fn process(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A lookup over fixed `(name, value)` pairs, for settings tests.
#[cfg(test)]
pub(crate) fn lookup_from(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: std::collections::HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_trimmed_and_blank_is_unset() {
        let lookup = |name: &str| match name {
            "A" => Some("  x \n".to_owned()),
            "B" => Some("   ".to_owned()),
            _ => None,
        };
        assert_eq!(lookup.get("A").as_deref(), Some("x"));
        assert_eq!(lookup.get("B"), None);
        assert_eq!(lookup.get("C"), None);
        assert_eq!(
            lookup.require("B", "put something in it"),
            Err(ConfigError::Missing {
                name: "B",
                hint: "put something in it"
            })
        );
        let message = lookup
            .require("C", "set it to the table")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(message, "C is not set: set it to the table");
    }

    #[test]
    fn whole_numbers_are_checked_against_their_range() {
        let lookup = |name: &str| match name {
            "N" => Some(" 4 ".to_owned()),
            "BIG" => Some("99".to_owned()),
            "WORD" => Some("four".to_owned()),
            _ => None,
        };
        assert_eq!(lookup.whole_number("N", 1..=8, "parts"), Ok(Some(4)));
        assert_eq!(lookup.whole_number("UNSET", 1..=8, "parts"), Ok(None));
        for name in ["BIG", "WORD"] {
            let err = lookup.whole_number(name, 1..=8, "parts").err();
            assert!(
                matches!(&err, Some(ConfigError::Invalid { reason, .. }) if reason.contains("parts from 1 to 8")),
                "{err:?}"
            );
        }
    }
}
