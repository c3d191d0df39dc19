//! Limits an operator sets per token: how many writes a token may make
//! (`--write-rate`, a token bucket) and how many uploads it may have in
//! flight at once (`--max-uploads-per-token`). A token is known here only by
//! a hash of the credential its request carries (the handlers check the
//! credential itself as usual); requests without one share a key.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::{HeaderMap, Method};

/// Writes allowed per unit of time, with a burst of as many.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Writes per unit.
    pub count: u32,
    /// The unit.
    pub per: Duration,
}

impl Rate {
    /// Parses `N/s`, `N/m` or `N/h`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || {
            format!(
                "`{text}` is not a rate; give writes per second, minute or hour, e.g. 10/s or 600/m"
            )
        };
        let (count, unit) = text.trim().split_once('/').ok_or_else(invalid)?;
        let count: u32 = count.trim().parse().map_err(|_| invalid())?;
        let per = match unit.trim() {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(invalid()),
        };
        if count == 0 {
            return Err(format!("`{text}` allows no writes at all; give at least 1"));
        }
        Ok(Self { count, per })
    }

    fn per_second(self) -> f64 {
        f64::from(self.count) / self.per.as_secs_f64()
    }
}

/// Why a write was refused.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// The token made its writes for now; the next is allowed after this long.
    Rate { retry_after: Duration, rate: Rate },
    /// The token has this many uploads in flight already.
    Uploads { limit: u32 },
}

/// What is kept per token.
#[derive(Debug)]
struct Account {
    /// Writes left in the bucket.
    tokens: f64,
    /// When the bucket was last filled up.
    filled: Instant,
    /// Uploads in flight.
    uploads: u32,
}

/// The most tokens kept track of before idle ones are forgotten.
const MAX_ACCOUNTS: usize = 10_000;

/// The per-token limits.
#[derive(Debug)]
pub struct Throttle {
    rate: Option<Rate>,
    uploads: Option<u32>,
    keys: RandomState,
    accounts: Mutex<HashMap<u64, Account>>,
}

/// An upload in flight, counted until it is dropped.
#[derive(Debug)]
pub struct UploadSlot {
    throttle: Arc<Throttle>,
    key: u64,
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut accounts = self.throttle.lock();
        if let Some(account) = accounts.get_mut(&self.key) {
            account.uploads = account.uploads.saturating_sub(1);
        }
    }
}

impl Throttle {
    /// Limits of `rate` writes and `uploads` uploads in flight per token;
    /// none when both are off.
    pub fn new(rate: Option<Rate>, uploads: Option<u32>) -> Option<Arc<Self>> {
        (rate.is_some() || uploads.is_some()).then(|| {
            Arc::new(Self {
                rate,
                uploads,
                keys: RandomState::new(),
                accounts: Mutex::new(HashMap::new()),
            })
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Account>> {
        // A panic while holding the lock leaves only counts behind.
        self.accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admits a request of `method` carrying `headers`, or says why not.
    /// Reads are always admitted; a write takes one from its token's bucket;
    /// a write with a body (an upload) holds a slot until the returned guard
    /// is dropped.
    pub fn admit(
        self: &Arc<Self>,
        method: &Method,
        headers: &HeaderMap,
    ) -> Result<Option<UploadSlot>, Refusal> {
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(None);
        }
        let credential = headers
            .get(hyper::header::AUTHORIZATION)
            .map_or(&[][..], |value| value.as_bytes());
        let key = self.keys.hash_one(credential);
        let upload = matches!(*method, Method::PUT | Method::POST | Method::PATCH);
        let now = Instant::now();
        let mut accounts = self.lock();
        if accounts.len() >= MAX_ACCOUNTS && !accounts.contains_key(&key) {
            self.forget_idle(&mut accounts, now);
        }
        let account = accounts.entry(key).or_insert_with(|| Account {
            tokens: self.rate.map_or(0.0, |rate| f64::from(rate.count)),
            filled: now,
            uploads: 0,
        });
        if let (true, Some(limit)) = (upload, self.uploads)
            && account.uploads >= limit
        {
            return Err(Refusal::Uploads { limit });
        }
        if let Some(rate) = self.rate {
            let elapsed = now.duration_since(account.filled).as_secs_f64();
            account.tokens =
                (account.tokens + elapsed * rate.per_second()).min(f64::from(rate.count));
            account.filled = now;
            if account.tokens < 1.0 {
                let wait = (1.0 - account.tokens) / rate.per_second();
                return Err(Refusal::Rate {
                    retry_after: Duration::from_secs_f64(wait),
                    rate,
                });
            }
            account.tokens -= 1.0;
        }
        if !upload || self.uploads.is_none() {
            return Ok(None);
        }
        account.uploads += 1;
        Ok(Some(UploadSlot {
            throttle: self.clone(),
            key,
        }))
    }

    /// Forgets the tokens with no upload in flight and a full bucket: they
    /// would start afresh exactly as they are.
    fn forget_idle(&self, accounts: &mut HashMap<u64, Account>, now: Instant) {
        accounts.retain(|_, account| {
            let full = self.rate.is_none_or(|rate| {
                let elapsed = now.duration_since(account.filled).as_secs_f64();
                account.tokens + elapsed * rate.per_second() >= f64::from(rate.count)
            });
            account.uploads > 0 || !full
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_token(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            hyper::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        headers
    }

    #[test]
    fn rates_parse_with_their_unit() {
        assert_eq!(
            Rate::parse("10/s"),
            Ok(Rate {
                count: 10,
                per: Duration::from_secs(1)
            })
        );
        assert_eq!(Rate::parse("600/m").unwrap().per, Duration::from_secs(60));
        for bad in ["10", "x/s", "10/d", "0/s", ""] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_token_has_its_own_bucket_and_reads_are_free() {
        let throttle = Throttle::new(Some(Rate::parse("2/h").unwrap()), None).unwrap();
        let (a, b) = (with_token("a"), with_token("b"));
        for _ in 0..10 {
            assert_eq!(
                throttle.admit(&Method::GET, &a).map(|s| s.is_some()),
                Ok(false)
            );
        }
        assert!(throttle.admit(&Method::POST, &a).is_ok());
        assert!(throttle.admit(&Method::DELETE, &a).is_ok());
        match throttle.admit(&Method::PUT, &a) {
            Err(Refusal::Rate { retry_after, .. }) => {
                assert!(retry_after > Duration::from_secs(1700), "{retry_after:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(throttle.admit(&Method::PUT, &b).is_ok());
    }

    #[test]
    fn uploads_in_flight_are_counted_until_their_slot_is_dropped() {
        let throttle = Throttle::new(None, Some(1)).unwrap();
        let a = with_token("a");
        let slot = throttle.admit(&Method::PUT, &a).unwrap();
        assert!(slot.is_some());
        assert_eq!(
            throttle.admit(&Method::PATCH, &a).unwrap_err(),
            Refusal::Uploads { limit: 1 }
        );
        // A delete carries no body: not an upload.
        assert!(throttle.admit(&Method::DELETE, &a).is_ok());
        drop(slot);
        assert!(throttle.admit(&Method::POST, &a).unwrap().is_some());
    }
}
