//! A world's traffic as one subscriber receives it, without sockets or wall time: the frames the
//! gateway writes for a subscription to the client's own event filters (account telephony
//! sessions and detailed presence), each with the simulated time it was sent. The benchmarks
//! feed these to the board, and the event readers' tests hold parsers to each other on them.

use chrono::{DateTime, Duration, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::GatewaySettings;
use super::WorldConfig;
use super::filters::FilterContext;
use super::gateway::{ClientCall, EnvelopeContext, Gateway, OUTBOUND_QUEUE, Outbound, outlet};
use super::world::World;
use crate::rc::ws::{ACCOUNT_PRESENCE_FILTER, ACCOUNT_TELEPHONY_FILTER};

/// One frame as received, with the simulated time it was sent.
pub struct FeedFrame {
    pub text: String,
    pub at: DateTime<Utc>,
}

/// At least `count` frames of `config`'s world from `start`, played in steps of 250 ms of
/// simulated time. The same config, start and `seed` (the gateway's ids) give the same frames.
///
/// # Panics
/// If a fresh gateway refuses its first connection or the client's own filters: a bug in the
/// simulator, not a condition of the input.
pub fn subscribed_frames(
    config: &WorldConfig,
    start: DateTime<Utc>,
    seed: u64,
    count: usize,
) -> Vec<FeedFrame> {
    let mut world = World::new(config, start);
    let account_id = world.account_id().to_owned();
    let owner_id = world.owner_extension_id().to_owned();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut gateway = Gateway::new(GatewaySettings::default(), &mut rng);
    let (tx, mut inlet) = outlet(OUTBOUND_QUEUE);
    let connection_id = gateway
        .attach(&mut rng, "feed", None, tx, std::time::Instant::now())
        .expect("a fresh gateway attaches its first connection")
        .connection_id();
    let exists = |_: &str| true;
    let filter_ctx = FilterContext {
        account_id: &account_id,
        owner_extension_id: &owner_id,
        extension_exists: &exists,
    };
    let body = json!({
        "eventFilters": [ACCOUNT_TELEPHONY_FILTER, ACCOUNT_PRESENCE_FILTER],
        "deliveryMode": {"transportType": "WebSocket"},
    });
    let (status, _) = gateway.subscription_request(
        &mut rng,
        connection_id,
        &ClientCall {
            method: "POST",
            path: "/restapi/v1.0/subscription/",
            body: Some(&body),
        },
        &filter_ctx,
        start,
    );
    assert_eq!(status, 200, "the gateway refused the client's own filters");

    let mut frames = Vec::with_capacity(count);
    let mut now = start;
    while frames.len() < count {
        now += Duration::milliseconds(250);
        let events = world.advance(now);
        let ctx = EnvelopeContext {
            account_id: &account_id,
            owner_extension_id: &owner_id,
            now,
            clock: std::time::Instant::now(),
        };
        gateway.dispatch(&mut rng, &events, &ctx);
        while let Ok(outbound) = inlet.frames.try_recv() {
            if let Outbound::Text(text) = outbound {
                frames.push(FeedFrame { text, at: now });
            }
        }
    }
    frames
}
