//! Cognito's string enumerations, typed. Unknown values are kept as they are (Cognito adds values over
//! time; a backup must not fail on one it does not know).

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this release does not know, kept as Cognito sent it.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(s) => s,
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $($text => Self::$variant,)+
                    _ => Self::Other(s),
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::from(s.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_owned()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// A user's `UserStatus`.
    UserStatus {
        #[default]
        Confirmed => "CONFIRMED",
        Unconfirmed => "UNCONFIRMED",
        ForceChangePassword => "FORCE_CHANGE_PASSWORD",
        ResetRequired => "RESET_REQUIRED",
        /// A user signed in through an identity provider.
        ExternalProvider => "EXTERNAL_PROVIDER",
        Archived => "ARCHIVED",
        Compromised => "COMPROMISED",
        Unknown => "UNKNOWN",
    }
}

string_enum! {
    /// A pool's `MfaConfiguration`.
    MfaConfiguration {
        #[default]
        Off => "OFF",
        On => "ON",
        Optional => "OPTIONAL",
    }
}

string_enum! {
    /// A user import job's `Status`.
    ImportJobStatus {
        #[default]
        Created => "Created",
        Pending => "Pending",
        InProgress => "InProgress",
        Stopping => "Stopping",
        Expired => "Expired",
        Stopped => "Stopped",
        Failed => "Failed",
        Succeeded => "Succeeded",
    }
}

impl ImportJobStatus {
    /// The job will not change any more.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Created | Self::Pending | Self::InProgress | Self::Stopping)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_are_typed_and_unknown_ones_kept() {
        assert_eq!(UserStatus::from("EXTERNAL_PROVIDER"), UserStatus::ExternalProvider);
        let other = UserStatus::from("SOMETHING_NEW");
        assert_eq!(other.as_str(), "SOMETHING_NEW");
        let json = serde_json::to_string(&MfaConfiguration::Optional).unwrap();
        assert_eq!(json, "\"OPTIONAL\"");
        assert_eq!(serde_json::from_str::<MfaConfiguration>("\"ON\"").unwrap(), MfaConfiguration::On);
        assert!(ImportJobStatus::Succeeded.is_final() && !ImportJobStatus::InProgress.is_final());
    }
}
