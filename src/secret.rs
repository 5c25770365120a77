//! A wrapper for values that must never reach a log, a terminal or a file by accident.
//!
//! A credential's secret access key and session token pass through several layers of
//! stsgrant. Holding them in [`Secret`] makes every accidental exposure a compile error or a
//! `[redacted]`: the type has no `Display` and no `Serialize`, its `Debug` hides the value,
//! and the memory is overwritten when the value is dropped. Reading the value takes an explicit
//! call to [`Secret::expose`], which is easy to find in review.

use std::fmt;

use zeroize::Zeroize;

/// A value that is redacted in `Debug` output and zeroized when dropped.
pub struct Secret<T: Zeroize>(T);

/// A secret text, such as a session token or a passphrase.
pub type SecretString = Secret<String>;

impl<T: Zeroize> Secret<T> {
    /// Wraps a value; the caller gives up its own copy by moving it in.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// Returns the value. Every call site is a place where the secret leaves this wrapper, so
    /// keep them few and never pass the result to a formatter or a logger.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: Zeroize + Clone> Clone for Secret<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self::new(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let secret = SecretString::from("wJalrXUtnFEMI/K7MDENG");
        let shown = format!("{secret:?}");
        assert_eq!(shown, "[redacted]");
        assert!(!shown.contains("wJalr"));
    }

    #[test]
    fn debug_of_a_containing_struct_is_redacted() {
        #[derive(Debug)]
        #[allow(dead_code)] // Read only through `Debug`.
        struct Holder {
            name: &'static str,
            token: SecretString,
        }
        let holder = Holder {
            name: "alice",
            token: SecretString::from("FwoGZXIvYXdzEJr"),
        };
        let shown = format!("{holder:?} {holder:#?}");
        assert!(shown.contains("alice"));
        assert!(!shown.contains("FwoGZXIvYXdzEJr"));
    }

    /// Answers "does `$ty` implement `$tr`?" at compile time without failing the build when
    /// it does not: method lookup prefers the impl on `Probe` over the fallback on `&Probe`.
    macro_rules! implements {
        ($ty:ty, $tr:path) => {{
            struct Probe<T>(std::marker::PhantomData<T>);
            #[allow(dead_code)] // One of the two traits is unused in each expansion.
            trait Yes {
                fn check(&self) -> bool {
                    true
                }
            }
            impl<T: $tr> Yes for Probe<T> {}
            #[allow(dead_code)]
            trait No {
                fn check(&self) -> bool {
                    false
                }
            }
            impl<T> No for &Probe<T> {}
            (&Probe::<$ty>(std::marker::PhantomData)).check()
        }};
    }

    #[test]
    fn implements_neither_display_nor_serialize() {
        assert!(
            implements!(String, std::fmt::Display),
            "the probe must see a real impl"
        );
        assert!(
            implements!(String, serde::Serialize),
            "the probe must see a real impl"
        );
        assert!(!implements!(SecretString, std::fmt::Display));
        assert!(!implements!(SecretString, serde::Serialize));
        assert!(!implements!(Secret<Vec<u8>>, serde::Serialize));
    }

    #[test]
    fn expose_returns_the_value() {
        let secret = Secret::new(vec![1u8, 2, 3]);
        assert_eq!(secret.expose(), &[1, 2, 3]);
        assert_eq!(secret.clone().expose(), &[1, 2, 3]);
    }
}
