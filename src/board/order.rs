//! The Calls view's default order, kept as calls change instead of sorted on every frame.
//!
//! Live calls come first: waiting calls on top (longest waiting first), then the rest by state
//! ([`live_rank`]), each group by when the call entered its state ([`state_since`]), then by
//! start and creation order. Finished calls follow, newest end first, straight from the board's
//! `by_end` index.
//!
//! [`LiveOrder`] holds the live part in a [`RankedSet`]: sorted blocks of a few hundred entries
//! (the shape of Python's `sortedcontainers`), so a change costs O(log n + block), and finding
//! the row at an index or the index of a row costs O(n / block) — a few hundred additions at
//! 100k calls — which is what lets a frame find its viewport and its selection without walking
//! every call. `Board::finish_call_update` calls [`LiveOrder::place`] after every change to a
//! call and ageing out calls [`LiveOrder::remove`]; nothing else moves a call.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::board::model::{Board, Call, CallState, FastMap};

/// When the call entered its current state, as far as the board can tell.
pub fn state_since(call: &Call) -> DateTime<Utc> {
    match call.state {
        CallState::Setup => call.started_at,
        CallState::Waiting => call.queued_at.unwrap_or(call.started_at),
        CallState::Voicemail => call.voicemail_at.unwrap_or(call.started_at),
        CallState::Ended => call.ended_at.unwrap_or(call.started_at),
        CallState::Talking | CallState::Hold | CallState::Parked => call
            .parties()
            .iter()
            .filter(|p| call.agent_id.is_some() && p.extension_id == call.agent_id)
            .map(|p| p.status_since)
            .max()
            .or(call.answered_at)
            .unwrap_or(call.started_at),
    }
}

/// Whether [`state_since`] is only a lower bound: the call's current state was learned from a
/// REST read (callboard's start-up or a resync), which carries no per-party times, and no event
/// has moved the party that defines the state since. The truth is then "at least this long".
/// A call still setting up is timed from the session's creation, which the read does carry.
pub fn state_since_is_lower_bound(call: &Call) -> bool {
    if !call.is_live() {
        return false;
    }
    let only_read = |p: &crate::board::PartyState| p.status_from_read;
    match call.state {
        CallState::Setup | CallState::Ended => false,
        CallState::Waiting | CallState::Voicemail => call.parties().iter().all(only_read),
        CallState::Talking | CallState::Hold | CallState::Parked => {
            let mut agents = call
                .parties()
                .iter()
                .filter(|p| call.agent_id.is_some() && p.extension_id == call.agent_id)
                .peekable();
            if agents.peek().is_some() {
                agents.all(only_read)
            } else {
                call.parties().iter().all(only_read)
            }
        }
    }
}

/// The state groups of the live order: waiting first (what a supervisor acts on), then calls
/// still setting up, on hold, parked, talking, in voicemail.
pub fn live_rank(state: CallState) -> u8 {
    match state {
        CallState::Waiting => 0,
        CallState::Setup => 1,
        CallState::Hold => 2,
        CallState::Parked => 3,
        CallState::Talking => 4,
        CallState::Voicemail => 5,
        CallState::Ended => 6,
    }
}

/// Where a live call sits in the order. `serial` is unique per call, so no two keys are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LiveKey {
    pub rank: u8,
    pub since: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub serial: u32,
}

impl LiveKey {
    /// The key of a live call; `None` for a finished one.
    pub fn of(call: &Call) -> Option<LiveKey> {
        call.is_live().then(|| LiveKey {
            rank: live_rank(call.state),
            since: state_since(call),
            started_at: call.started_at,
            serial: call.serial,
        })
    }
}

/// Entries a block of the live order holds at most. Smaller than the time indexes' blocks: a
/// call changing state moves within and between blocks on most events, and each move shifts
/// half a block, while the order holds only the live calls, so its rank walks stay short.
const LIVE_ORDER_BLOCK: usize = 64;

/// Live calls in display order, with their ids.
#[derive(Debug, Clone, Default)]
pub struct LiveOrder {
    entries: RankedSet<(LiveKey, Arc<str>), LIVE_ORDER_BLOCK>,
    /// Serial → the key the call is filed under, to find it again when it changes (looked up on
    /// every event, hence the fast hasher).
    placed: FastMap<u32, LiveKey>,
}

impl LiveOrder {
    /// Files `call` where it belongs now: moves it if its key changed, drops it once it ended.
    pub(crate) fn place(&mut self, call: &Call) {
        let fresh = LiveKey::of(call);
        let held = self.placed.get(&call.serial).copied();
        if fresh == held {
            return;
        }
        // Reuse the id string of the entry being moved: a state change allocates nothing.
        let id = held
            .and_then(|key| self.entries.remove_by(|(k, _)| k.cmp(&key)))
            .map(|(_, id)| id);
        match fresh {
            Some(key) => {
                let id = id.unwrap_or_else(|| Arc::clone(&call.id));
                self.entries.insert((key, id));
                self.placed.insert(call.serial, key);
            }
            None => {
                self.placed.remove(&call.serial);
            }
        }
    }

    /// Forgets `call` (it left the board).
    pub(crate) fn remove(&mut self, call: &Call) {
        if let Some(key) = self.placed.remove(&call.serial) {
            self.entries.remove_by(|(k, _)| k.cmp(&key));
        }
    }

    /// Number of live calls.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.len() == 0
    }

    /// The id of the live call at `index` in display order.
    pub fn id_at(&self, index: usize) -> Option<&str> {
        self.entries.get(index).map(|(_, id)| &**id)
    }

    /// The ids of live calls from `start` on, in display order.
    pub fn ids_from(&self, start: usize) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter_from(start).map(|(_, id)| &**id)
    }

    /// The display index of `call` among live calls; `None` if it is not live.
    pub fn position(&self, call: &Call) -> Option<usize> {
        let key = self.placed.get(&call.serial)?;
        self.entries.rank_by(|(k, _)| k.cmp(key))
    }
}

impl Board {
    /// Live calls in the Calls view's default order (see the module doc).
    pub fn live_order(&self) -> &LiveOrder {
        &self.live_order
    }

    /// Finished calls held, newest end first (ties by id, last first).
    pub fn ended_calls_newest_first(&self) -> impl Iterator<Item = &Call> + '_ {
        self.by_end
            .iter()
            .rev()
            .filter_map(|(_, id)| self.calls.get(id).map(|call| &**call))
    }

    /// Number of finished calls held.
    pub fn ended_call_count(&self) -> usize {
        self.by_end.len()
    }
}

/// The block size of the time indexes: they change by appending and popping the oldest, so
/// large blocks cost no shifting there and keep the per-entry memory low.
pub const TIME_INDEX_BLOCK: usize = 512;

/// A sorted multiset in blocks: O(log n + block) insert and remove, O(n / block) rank and
/// index. Items are found with a comparison closure, so entries can carry data (an id) that the
/// order ignores.
///
/// `MAX_BLOCK` is the most entries a block holds; a full block splits in two when an entry goes
/// into its middle, and a block shorter than a quarter of it merges with a neighbour when the
/// two fit in one. Inserting into or removing from the middle shifts half a block, so a set
/// that changes in the middle wants small blocks; one that only grows at the end and shrinks
/// at the start can afford large ones.
#[derive(Debug, Clone)]
pub struct RankedSet<T, const MAX_BLOCK: usize = TIME_INDEX_BLOCK> {
    blocks: Vec<Vec<T>>,
    len: usize,
}

impl<T, const MAX_BLOCK: usize> Default for RankedSet<T, MAX_BLOCK> {
    fn default() -> Self {
        RankedSet {
            blocks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Ord, const MAX_BLOCK: usize> RankedSet<T, MAX_BLOCK> {
    pub fn insert(&mut self, item: T) {
        self.len += 1;
        let Some(last_block) = self.blocks.len().checked_sub(1) else {
            self.blocks.push(Self::new_block(item));
            return;
        };
        let b = self
            .blocks
            .partition_point(|block| block.last().is_some_and(|last| *last < item))
            .min(last_block);
        let block = &mut self.blocks[b];
        let at = block.partition_point(|x| *x < item);
        if block.len() < MAX_BLOCK {
            block.insert(at, item);
        } else if b == last_block && at == MAX_BLOCK {
            // Appending to a full last block (time indexes grow this way): a new block, so the
            // full one stays full and no block ever holds room for more than MAX_BLOCK.
            self.blocks.push(Self::new_block(item));
        } else {
            let mut upper = block.split_off(MAX_BLOCK / 2);
            match at.checked_sub(MAX_BLOCK / 2) {
                Some(upper_at) => upper.insert(upper_at, item),
                None => block.insert(at, item),
            }
            self.blocks.insert(b + 1, upper);
        }
    }

    /// Inserts `item` unless an equal one is held; true if it was inserted (a set's insert).
    pub fn insert_unique(&mut self, item: T) -> bool {
        if self.find(|x| x.cmp(&item)).is_some() {
            return false;
        }
        self.insert(item);
        true
    }
}

impl<T, const MAX_BLOCK: usize> RankedSet<T, MAX_BLOCK> {
    /// A block shorter than this merges with a neighbour when the two fit in one.
    const MIN_BLOCK: usize = MAX_BLOCK / 4;

    /// A block holding `item`, with room for a full block (so it never reallocates).
    fn new_block(item: T) -> Vec<T> {
        let mut block = Vec::with_capacity(MAX_BLOCK);
        block.push(item);
        block
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The block and offset of the item `probe` finds (`probe(item)` orders the item against
    /// the one sought), if present.
    fn find(&self, probe: impl Fn(&T) -> std::cmp::Ordering) -> Option<(usize, usize)> {
        use std::cmp::Ordering;
        let b = self.blocks.partition_point(|block| {
            block
                .last()
                .is_some_and(|last| probe(last) == Ordering::Less)
        });
        let block = self.blocks.get(b)?;
        block.binary_search_by(&probe).ok().map(|at| (b, at))
    }

    /// The first item.
    pub fn first(&self) -> Option<&T> {
        self.blocks.first().and_then(|block| block.first())
    }

    /// Removes and returns the first item.
    pub fn pop_first(&mut self) -> Option<T> {
        let first = self.blocks.first_mut()?;
        let item = first.remove(0);
        self.len -= 1;
        if first.is_empty() {
            self.blocks.remove(0);
        } else if first.len() < Self::MIN_BLOCK {
            self.merge_small(0);
        }
        Some(item)
    }

    /// Removes and returns the item `probe` finds.
    pub fn remove_by(&mut self, probe: impl Fn(&T) -> std::cmp::Ordering) -> Option<T> {
        let (b, at) = self.find(probe)?;
        let item = self.blocks[b].remove(at);
        self.len -= 1;
        if self.blocks[b].is_empty() {
            self.blocks.remove(b);
        } else if self.blocks[b].len() < Self::MIN_BLOCK {
            self.merge_small(b);
        }
        Some(item)
    }

    /// Merges block `b` into a neighbour when the two fit in one block, so churn cannot leave
    /// many tiny blocks (which would make rank and index slow).
    fn merge_small(&mut self, b: usize) {
        if b + 1 < self.blocks.len() && self.blocks[b].len() + self.blocks[b + 1].len() <= MAX_BLOCK
        {
            let next = self.blocks.remove(b + 1);
            self.blocks[b].extend(next);
        } else if b > 0 && self.blocks[b - 1].len() + self.blocks[b].len() <= MAX_BLOCK {
            let this = self.blocks.remove(b);
            self.blocks[b - 1].extend(this);
        }
    }

    /// The index of the item `probe` finds.
    pub fn rank_by(&self, probe: impl Fn(&T) -> std::cmp::Ordering) -> Option<usize> {
        let (b, at) = self.find(probe)?;
        Some(self.blocks[..b].iter().map(Vec::len).sum::<usize>() + at)
    }

    /// The block and offset of index `index`.
    fn locate(&self, mut index: usize) -> Option<(usize, usize)> {
        for (b, block) in self.blocks.iter().enumerate() {
            if index < block.len() {
                return Some((b, index));
            }
            index -= block.len();
        }
        None
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        let (b, at) = self.locate(index)?;
        self.blocks[b].get(at)
    }

    /// The items from index `start` on, in order.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = &T> + '_ {
        let (b, at) = self.locate(start).unwrap_or((self.blocks.len(), 0));
        self.blocks
            .get(b..)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .flat_map(move |(n, block)| block[if n == 0 { at } else { 0 }..].iter())
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.blocks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_of<const MAX_BLOCK: usize>(
        items: impl IntoIterator<Item = u32>,
    ) -> RankedSet<u32, MAX_BLOCK> {
        let mut set = RankedSet::default();
        for item in items {
            set.insert(item);
        }
        set
    }

    #[test]
    fn ranked_set_keeps_order_across_splits_and_merges() {
        keeps_order_across_splits_and_merges::<TIME_INDEX_BLOCK>();
    }

    #[test]
    fn ranked_set_with_live_order_blocks_keeps_order_across_splits_and_merges() {
        keeps_order_across_splits_and_merges::<LIVE_ORDER_BLOCK>();
    }

    fn keeps_order_across_splits_and_merges<const MAX_BLOCK: usize>() {
        // A scrambled permutation, so blocks split in the middle and at both ends.
        let n = 5_000u32;
        let mut set: RankedSet<u32, MAX_BLOCK> = set_of((0..n).map(|i| (i * 7_919) % n));
        assert_eq!(set.len(), n as usize);
        assert!(set.blocks.len() > 10, "splits happened");
        assert!(set.iter().copied().eq(0..n));
        for i in [0, 1, 511, 512, 513, 2_500, 4_999] {
            assert_eq!(set.get(i as usize), Some(&i));
            assert_eq!(set.rank_by(|x| x.cmp(&i)), Some(i as usize));
            assert_eq!(set.iter_from(i as usize).next(), Some(&i));
        }
        assert_eq!(set.get(n as usize), None);
        assert_eq!(set.iter_from(n as usize).count(), 0);
        // Remove all but every tenth: blocks merge, order and ranks stay right.
        for i in (0..n).filter(|i| i % 10 != 0) {
            assert_eq!(set.remove_by(|x| x.cmp(&i)), Some(i));
        }
        assert_eq!(set.remove_by(|x| x.cmp(&1)), None);
        assert!(set.iter().copied().eq((0..n).step_by(10)));
        assert_eq!(set.len(), 500);
        assert!(set.blocks.iter().all(|b| !b.is_empty()));
        // 500 items left: merges keep every block but the odd one at least a quarter full.
        let most_blocks = 500 / (MAX_BLOCK / 4) + 1;
        assert!(
            set.blocks.len() <= most_blocks,
            "{} blocks left",
            set.blocks.len()
        );
        assert_eq!(set.rank_by(|x| x.cmp(&4_990)), Some(499));
        assert!(set.iter_from(498).copied().eq([4_980, 4_990]));
    }

    #[test]
    fn appended_items_fill_their_blocks_and_pop_in_order() {
        const MAX_BLOCK: usize = TIME_INDEX_BLOCK;
        let n = 3 * MAX_BLOCK as u32 + 7;
        let mut set: RankedSet<u32> = set_of(0..n);
        // Appending (how calls enter the time indexes) leaves every block but the last full,
        // with no room held beyond a full block: that is the index's memory per entry.
        assert_eq!(set.blocks.len(), 4);
        assert!(
            set.blocks[..3]
                .iter()
                .all(|b| b.len() == MAX_BLOCK && b.capacity() == MAX_BLOCK)
        );
        for i in 0..n {
            assert_eq!(set.first(), Some(&i));
            assert_eq!(set.pop_first(), Some(i));
            assert_eq!(set.len(), (n - i - 1) as usize);
        }
        assert_eq!(set.pop_first(), None);
        assert!(set.blocks.is_empty());
    }

    #[test]
    fn insert_unique_keeps_one_of_equal_items() {
        let mut set: RankedSet<u32> = set_of([10, 20, 30]);
        assert!(!set.insert_unique(20));
        assert!(set.insert_unique(25));
        assert!(set.iter().copied().eq([10, 20, 25, 30]));
        assert!(set.iter().rev().copied().eq([30, 25, 20, 10]));
    }

    // -----------------------------------------------------------------------------------------
    // The live order against a full sort, after random event sequences

    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;
    use serde_json::json;

    use crate::board::BoardConfig;
    use crate::rc::records::{CallQueue, Extension};

    const QUEUE: &str = "900";
    const AGENTS: [&str; 2] = ["501", "502"];
    const STATUSES: [&str; 7] = [
        "Setup",
        "Proceeding",
        "Answered",
        "Hold",
        "Parked",
        "VoiceMail",
        "Disconnected",
    ];

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap()
    }

    fn board() -> Board {
        let config = BoardConfig {
            finished_call_horizon: Duration::seconds(120),
            ..BoardConfig::default()
        };
        let mut board = Board::new(config, Vec::<String>::new());
        let queue = CallQueue {
            id: QUEUE.into(),
            name: Some("Sales".into()),
            ..CallQueue::default()
        };
        board.set_queues(&[queue], t0());
        let extensions: Vec<Extension> = AGENTS
            .iter()
            .map(|id| Extension {
                id: (*id).into(),
                name: Some(format!("Agent {id}")),
                kind: Some("User".into()),
                ..Extension::default()
            })
            .collect();
        board.set_extensions(&extensions, t0());
        board
    }

    /// One step of a random script.
    #[derive(Debug, Clone)]
    enum Step {
        /// A party of call `call` reports a status: party 0 is the caller, 1 and 2 agents
        /// reached through the queue.
        Party {
            call: u8,
            party: u8,
            status: u8,
            sequence: u8,
        },
        /// Time passes (finished calls age out).
        Wait { seconds: u16 },
        /// A resync finds only the calls in `active` (by number) still live.
        Resync { active: u8 },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            8 => (0u8..12, 0u8..3, 0u8..7, 0u8..6).prop_map(|(call, party, status, sequence)| {
                Step::Party { call, party, status, sequence }
            }),
            2 => (0u16..90).prop_map(|seconds| Step::Wait { seconds }),
            1 => any::<u8>().prop_map(|active| Step::Resync { active }),
        ]
    }

    fn party_frame(call: u8, party: u8, status: &str, sequence: u64, at: DateTime<Utc>) -> String {
        let session = format!("s{call}");
        let body_party = if party == 0 {
            json!({
                "id": format!("{session}-caller"),
                "direction": "Outbound",
                "from": { "phoneNumber": format!("+1555000{call:04}") },
                "to": { "phoneNumber": "+15550100001" },
                "status": { "code": status },
            })
        } else {
            json!({
                "id": format!("{session}-a{party}"),
                "extensionId": AGENTS[usize::from(party - 1)],
                "direction": "Inbound",
                "from": { "phoneNumber": format!("+1555000{call:04}") },
                "to": { "phoneNumber": "+15550100001", "name": "Sales", "extensionId": QUEUE },
                "queueCall": true,
                "status": { "code": status },
            })
        };
        let time = crate::board::json::format_time(at);
        json!({
            "uuid": format!("{session}-{sequence}-{party}"),
            "event": "/restapi/v1.0/account/1/telephony/sessions",
            "timestamp": time,
            "subscriptionId": "sub",
            "ownerId": "1",
            "body": {
                "sequence": sequence,
                "telephonySessionId": session,
                "eventTime": time,
                "origin": { "type": "Call" },
                "parties": [body_party],
            },
        })
        .to_string()
    }

    /// The order as a full sort of every live call would give it.
    fn full_sort(board: &Board) -> Vec<(LiveKey, Arc<str>)> {
        let mut live: Vec<(LiveKey, Arc<str>)> = board
            .live_calls()
            .filter_map(|c| LiveKey::of(c).map(|k| (k, Arc::clone(&c.id))))
            .collect();
        live.sort();
        live
    }

    fn check(board: &Board) {
        let expected = full_sort(board);
        let order = board.live_order();
        let held: Vec<&str> = order.ids_from(0).collect();
        let wanted: Vec<&str> = expected.iter().map(|(_, id)| &**id).collect();
        assert_eq!(held, wanted);
        assert_eq!(order.len(), expected.len());
        for (index, (_, id)) in expected.iter().enumerate() {
            let call = board.call(id).unwrap();
            assert_eq!(order.position(call), Some(index), "{id}");
            assert_eq!(order.id_at(index), Some(&**id));
        }
        // The definition the Calls view sorted by before: state group, then time in state.
        let groups: Vec<(u8, DateTime<Utc>)> = held
            .iter()
            .map(|id| board.call(id).unwrap())
            .map(|c| (live_rank(c.state), state_since(c)))
            .collect();
        assert!(groups.windows(2).all(|w| w[0] <= w[1]));
        // Finished calls are not in it.
        for call in board.calls().filter(|c| !c.is_live()) {
            assert_eq!(order.position(call), None);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn the_live_order_equals_a_full_sort_after_any_script(
            steps in proptest::collection::vec(step(), 1..120)
        ) {
            let mut board = board();
            let mut now = t0();
            let mut sequences = [0u64; 12];
            for step in steps {
                match step {
                    Step::Party { call, party, status, sequence } => {
                        now += Duration::milliseconds(700);
                        // Mostly in order; sometimes a repeat or a step back (stale).
                        let slot = &mut sequences[usize::from(call)];
                        *slot = (*slot + u64::from(sequence)).saturating_sub(1);
                        let frame = party_frame(
                            call,
                            party,
                            STATUSES[usize::from(status)],
                            *slot + 2,
                            now,
                        );
                        board.apply_frame(&frame, now).unwrap();
                    }
                    Step::Wait { seconds } => {
                        now += Duration::seconds(i64::from(seconds));
                        board.tick(now);
                    }
                    Step::Resync { active } => {
                        let ids: Vec<String> = (0..8u8)
                            .filter(|n| active & (1 << n) != 0)
                            .map(|n| format!("s{n}"))
                            .collect();
                        board.end_missing_live_calls(&ids, now);
                    }
                }
                check(&board);
            }
        }
    }
}
