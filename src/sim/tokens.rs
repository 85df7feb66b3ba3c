//! OAuth sessions and their tokens: access, refresh (single-use) and WebSocket (single-use).
//!
//! One login (a JWT grant) opens an OAuth session. Refreshing replaces both tokens of the session
//! and invalidates the previous access token at once; revoking any token ends the session. WS
//! sessions remember which OAuth session they belong to, which is how recovery tells WSG-1003
//! apart. Pure logic: time is a parameter, randomness comes from the caller's generator.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Identifies one OAuth session (the TokenInfo `session_id`).
pub type SessionId = String;

/// How long each kind of token lives.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenLifetimes {
    pub access: Duration,
    pub refresh: Duration,
    pub ws: Duration,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        TokenLifetimes {
            access: Duration::from_secs(3600),
            refresh: Duration::from_secs(604_800),
            // The docs sample says 30 s; short also limits the damage of clients that reuse it.
            ws: Duration::from_secs(30),
        }
    }
}

/// What a successful grant hands out; the HTTP layer turns it into `TokenInfo`.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenGrant {
    pub session_id: SessionId,
    pub access_token: String,
    pub expires_in: Duration,
    pub refresh_token: String,
    pub refresh_token_expires_in: Duration,
}

/// Why a bearer token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenRejection {
    /// Known, but past its lifetime (OAU-128).
    Expired,
    /// Never issued, already used, refreshed away or revoked (OAU-149 / "Token not found").
    Unknown,
}

#[derive(Debug)]
struct Issued {
    session_id: SessionId,
    expires_at: Instant,
}

/// All tokens the simulator has issued.
#[derive(Debug)]
pub struct TokenStore {
    lifetimes: TokenLifetimes,
    /// Whether a WebSocket token may open more than one socket within its lifetime.
    ws_reusable: bool,
    access: HashMap<String, Issued>,
    refresh: HashMap<String, Issued>,
    ws: HashMap<String, Issued>,
}

impl TokenStore {
    pub fn new(lifetimes: TokenLifetimes) -> Self {
        TokenStore {
            lifetimes,
            ws_reusable: false,
            access: HashMap::new(),
            refresh: HashMap::new(),
            ws: HashMap::new(),
        }
    }

    /// Lets WebSocket tokens be reused until they expire. The docs call them single-use (the
    /// default here), but the official JS SDK reuses one for reconnects until 80 % of its
    /// lifetime, so a simulator that wants the SDK to recover at once allows it.
    pub fn with_reusable_ws_tokens(mut self, reusable: bool) -> Self {
        self.ws_reusable = reusable;
        self
    }

    /// Opens a new OAuth session (JWT bearer grant). `ttl` are the client's optional
    /// `access_token_ttl` / `refresh_token_ttl` wishes, which may only shorten the lifetimes.
    pub fn open_session(
        &mut self,
        rng: &mut impl RngCore,
        now: Instant,
        access_ttl: Option<Duration>,
        refresh_ttl: Option<Duration>,
    ) -> TokenGrant {
        self.sweep(now);
        let session_id = format!("{}", rng.next_u64() >> 12);
        self.issue_pair(rng, session_id, now, access_ttl, refresh_ttl)
    }

    /// Spends `refresh_token` and issues a new pair for its session. The session's previous
    /// access tokens stop working at once.
    pub fn refresh(
        &mut self,
        rng: &mut impl RngCore,
        refresh_token: &str,
        now: Instant,
        access_ttl: Option<Duration>,
        refresh_ttl: Option<Duration>,
    ) -> Result<TokenGrant, TokenRejection> {
        let issued = self
            .refresh
            .remove(refresh_token)
            .ok_or(TokenRejection::Unknown)?;
        if issued.expires_at <= now {
            return Err(TokenRejection::Expired);
        }
        let session_id = issued.session_id;
        self.access.retain(|_, a| a.session_id != session_id);
        Ok(self.issue_pair(rng, session_id, now, access_ttl, refresh_ttl))
    }

    /// The session an access token belongs to, if the token is live.
    pub fn authenticate(
        &self,
        access_token: &str,
        now: Instant,
    ) -> Result<SessionId, TokenRejection> {
        let issued = self
            .access
            .get(access_token)
            .ok_or(TokenRejection::Unknown)?;
        if issued.expires_at <= now {
            return Err(TokenRejection::Expired);
        }
        Ok(issued.session_id.clone())
    }

    /// Ends the session that `token` (access or refresh) belongs to; returns it if there was one.
    pub fn revoke(&mut self, token: &str) -> Option<SessionId> {
        let session_id = self
            .access
            .get(token)
            .or_else(|| self.refresh.get(token))
            .map(|issued| issued.session_id.clone())?;
        self.access.retain(|_, a| a.session_id != session_id);
        self.refresh.retain(|_, r| r.session_id != session_id);
        self.ws.retain(|_, w| w.session_id != session_id);
        Some(session_id)
    }

    /// Issues a single-use WebSocket token for `session_id`; returns it with its lifetime.
    pub fn issue_ws_token(
        &mut self,
        rng: &mut impl RngCore,
        session_id: &str,
        now: Instant,
    ) -> (String, Duration) {
        let token = new_token(rng, "SIMW");
        self.ws.insert(
            token.clone(),
            Issued {
                session_id: session_id.to_owned(),
                expires_at: now + self.lifetimes.ws,
            },
        );
        (token, self.lifetimes.ws)
    }

    /// Spends a WebSocket token; each one opens at most one socket.
    pub fn redeem_ws_token(
        &mut self,
        token: &str,
        now: Instant,
    ) -> Result<SessionId, TokenRejection> {
        let issued = if self.ws_reusable {
            let issued = self.ws.get(token).ok_or(TokenRejection::Unknown)?;
            Issued {
                session_id: issued.session_id.clone(),
                expires_at: issued.expires_at,
            }
        } else {
            self.ws.remove(token).ok_or(TokenRejection::Unknown)?
        };
        if issued.expires_at <= now {
            return Err(TokenRejection::Expired);
        }
        Ok(issued.session_id)
    }
    /// The `expire_tokens` fault: every access token issued so far is expired as of `now`.
    pub fn expire_all_access_tokens(&mut self, now: Instant) {
        for issued in self.access.values_mut() {
            issued.expires_at = issued.expires_at.min(now);
        }
    }

    fn issue_pair(
        &mut self,
        rng: &mut impl RngCore,
        session_id: SessionId,
        now: Instant,
        access_ttl: Option<Duration>,
        refresh_ttl: Option<Duration>,
    ) -> TokenGrant {
        let expires_in = shorter(self.lifetimes.access, access_ttl);
        let refresh_expires_in = shorter(self.lifetimes.refresh, refresh_ttl);
        let access_token = new_token(rng, "SIMA");
        let refresh_token = new_token(rng, "SIMR");
        self.access.insert(
            access_token.clone(),
            Issued {
                session_id: session_id.clone(),
                expires_at: now + expires_in,
            },
        );
        self.refresh.insert(
            refresh_token.clone(),
            Issued {
                session_id: session_id.clone(),
                expires_at: now + refresh_expires_in,
            },
        );
        TokenGrant {
            session_id,
            access_token,
            expires_in,
            refresh_token,
            refresh_token_expires_in: refresh_expires_in,
        }
    }

    /// Forgets tokens that expired long ago, so a long-running demo does not grow without bound.
    /// Recently expired access tokens stay known so they keep answering "expired", not "unknown".
    fn sweep(&mut self, now: Instant) {
        let grace = Duration::from_secs(3600);
        let keep = |issued: &Issued| issued.expires_at + grace > now;
        self.access.retain(|_, issued| keep(issued));
        self.refresh.retain(|_, issued| keep(issued));
        self.ws.retain(|_, issued| issued.expires_at > now);
    }
}

fn shorter(configured: Duration, requested: Option<Duration>) -> Duration {
    match requested {
        Some(wish) if !wish.is_zero() => configured.min(wish),
        _ => configured,
    }
}

/// An opaque URL-safe token: the SDKs put WS tokens into URLs without encoding them.
pub fn new_token(rng: &mut impl RngCore, prefix: &str) -> String {
    let mut bytes = [0u8; 30];
    rng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A random RFC 4122 style (version 4) UUID, the form of `RCRequestId`, message ids and
/// subscription ids.
pub fn new_uuid(rng: &mut impl RngCore) -> String {
    Uuid::random(rng).as_str().to_owned()
}

/// A version 4 UUID's 36 characters, kept on the stack: the gateway writes one into every
/// notification frame.
#[derive(Clone, Copy)]
pub struct Uuid([u8; 36]);

impl Uuid {
    pub fn random(rng: &mut impl RngCore) -> Uuid {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut b = [0u8; 16];
        rng.fill_bytes(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let mut text = [b'-'; 36];
        // Digits go around the dashes at 8, 13, 18 and 23.
        let positions = (0..36).filter(|i| ![8, 13, 18, 23].contains(i));
        for (i, at) in positions.enumerate() {
            let byte = b[i / 2];
            let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
            text[at] = HEX[usize::from(nibble)];
        }
        Uuid(text)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits and dashes were written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn store() -> (TokenStore, ChaCha8Rng, Instant) {
        (
            TokenStore::new(TokenLifetimes {
                access: Duration::from_secs(60),
                refresh: Duration::from_secs(600),
                ws: Duration::from_secs(30),
            }),
            ChaCha8Rng::seed_from_u64(7),
            Instant::now(),
        )
    }

    #[test]
    fn access_tokens_authenticate_until_they_expire() {
        let (mut tokens, mut rng, t0) = store();
        let grant = tokens.open_session(&mut rng, t0, None, None);
        assert_eq!(grant.expires_in, Duration::from_secs(60));
        assert_eq!(
            tokens.authenticate(&grant.access_token, t0),
            Ok(grant.session_id.clone())
        );
        let late = t0 + Duration::from_secs(60);
        assert_eq!(
            tokens.authenticate(&grant.access_token, late),
            Err(TokenRejection::Expired)
        );
        assert_eq!(
            tokens.authenticate("SIMAnope", t0),
            Err(TokenRejection::Unknown)
        );
    }

    #[test]
    fn requested_ttls_only_shorten() {
        let (mut tokens, mut rng, t0) = store();
        let grant = tokens.open_session(
            &mut rng,
            t0,
            Some(Duration::from_secs(10)),
            Some(Duration::from_secs(10_000)),
        );
        assert_eq!(grant.expires_in, Duration::from_secs(10));
        assert_eq!(grant.refresh_token_expires_in, Duration::from_secs(600));
    }

    #[test]
    fn refresh_is_single_use_and_retires_the_old_access_token() {
        let (mut tokens, mut rng, t0) = store();
        let first = tokens.open_session(&mut rng, t0, None, None);
        let second = tokens
            .refresh(&mut rng, &first.refresh_token, t0, None, None)
            .unwrap();
        assert_eq!(second.session_id, first.session_id);
        assert_ne!(second.access_token, first.access_token);
        assert_eq!(
            tokens.authenticate(&first.access_token, t0),
            Err(TokenRejection::Unknown)
        );
        assert_eq!(
            tokens.authenticate(&second.access_token, t0),
            Ok(first.session_id.clone())
        );
        assert_eq!(
            tokens.refresh(&mut rng, &first.refresh_token, t0, None, None),
            Err(TokenRejection::Unknown)
        );
    }

    #[test]
    fn an_expired_refresh_token_is_refused() {
        let (mut tokens, mut rng, t0) = store();
        let grant = tokens.open_session(&mut rng, t0, None, None);
        let late = t0 + Duration::from_secs(601);
        assert_eq!(
            tokens.refresh(&mut rng, &grant.refresh_token, late, None, None),
            Err(TokenRejection::Expired)
        );
    }

    #[test]
    fn revoking_either_token_ends_the_whole_session() {
        let (mut tokens, mut rng, t0) = store();
        let grant = tokens.open_session(&mut rng, t0, None, None);
        let other = tokens.open_session(&mut rng, t0, None, None);
        let (ws, _) = tokens.issue_ws_token(&mut rng, &grant.session_id, t0);
        assert_eq!(
            tokens.revoke(&grant.refresh_token),
            Some(grant.session_id.clone())
        );
        assert_eq!(
            tokens.authenticate(&grant.access_token, t0),
            Err(TokenRejection::Unknown)
        );
        assert_eq!(
            tokens.redeem_ws_token(&ws, t0),
            Err(TokenRejection::Unknown)
        );
        assert!(tokens.authenticate(&other.access_token, t0).is_ok());
        assert_eq!(tokens.revoke(&grant.access_token), None);
    }

    #[test]
    fn ws_tokens_are_single_use_and_expire() {
        let (mut tokens, mut rng, t0) = store();
        let grant = tokens.open_session(&mut rng, t0, None, None);
        let (ws, lifetime) = tokens.issue_ws_token(&mut rng, &grant.session_id, t0);
        assert_eq!(lifetime, Duration::from_secs(30));
        assert_eq!(
            tokens.redeem_ws_token(&ws, t0),
            Ok(grant.session_id.clone())
        );
        assert_eq!(
            tokens.redeem_ws_token(&ws, t0),
            Err(TokenRejection::Unknown)
        );
        let (stale, _) = tokens.issue_ws_token(&mut rng, &grant.session_id, t0);
        assert_eq!(
            tokens.redeem_ws_token(&stale, t0 + Duration::from_secs(31)),
            Err(TokenRejection::Expired)
        );
    }

    #[test]
    fn reusable_ws_tokens_open_several_sockets_until_they_expire() {
        let (tokens, mut rng, t0) = store();
        let mut tokens = tokens.with_reusable_ws_tokens(true);
        let grant = tokens.open_session(&mut rng, t0, None, None);
        let (ws, _) = tokens.issue_ws_token(&mut rng, &grant.session_id, t0);
        assert!(tokens.redeem_ws_token(&ws, t0).is_ok());
        assert!(tokens.redeem_ws_token(&ws, t0).is_ok());
        assert_eq!(
            tokens.redeem_ws_token(&ws, t0 + Duration::from_secs(30)),
            Err(TokenRejection::Expired)
        );
    }

    #[test]
    fn expire_tokens_fault_expires_access_but_not_refresh() {
        let (mut tokens, mut rng, t0) = store();
        let grant = tokens.open_session(&mut rng, t0, None, None);
        tokens.expire_all_access_tokens(t0);
        assert_eq!(
            tokens.authenticate(&grant.access_token, t0),
            Err(TokenRejection::Expired)
        );
        assert!(
            tokens
                .refresh(&mut rng, &grant.refresh_token, t0, None, None)
                .is_ok()
        );
    }

    #[test]
    fn uuids_have_the_canonical_shape() {
        let (_, mut rng, _) = store();
        let id = new_uuid(&mut rng);
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, vec![8, 4, 4, 4, 12]);
        assert_eq!(&id[14..15], "4");
    }

    #[test]
    fn uuid_text_is_the_random_bytes_in_hex_with_version_and_variant_set() {
        let mut bytes = [0u8; 16];
        ChaCha8Rng::seed_from_u64(3).fill_bytes(&mut bytes);
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let h = hex::encode(bytes);
        let expected = format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        );
        let uuid = Uuid::random(&mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(uuid.as_str(), expected);
    }

    #[test]
    fn tokens_are_url_safe() {
        let (_, mut rng, _) = store();
        let token = new_token(&mut rng, "SIMW");
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }
}
