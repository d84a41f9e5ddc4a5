//! A socket's subscriptions: following a topic, and replaying what it missed since a seq
//! from the events table before the live stream takes over.

use std::time::Instant;

use steelyard_domain::realtime::parse_topic;
use steelyard_store::events::{self, EventFilter};

use super::super::protocol::{self, LiveEvent};
use super::super::socket::{feed, flush};
use super::{Connection, MAX_REPLAY, MAX_SUBSCRIPTIONS, REPLAY_PAGE};

impl Connection {
    /// Follows `topic`; with `since`, first replays what was committed after that seq.
    pub(super) async fn subscribe(&mut self, raw: &str, since: Option<i64>) -> Option<()> {
        let topic = match parse_topic(raw) {
            Ok(topic) => topic,
            Err(message) => {
                return self
                    .reply(protocol::error("unknown_topic", message, Some(raw)))
                    .await;
            }
        };
        if self.subscriptions.len() >= MAX_SUBSCRIPTIONS && !self.subscriptions.contains_key(&topic)
        {
            let message = "at most 100 topics per socket";
            let frame = protocol::error("too_many_subscriptions", message, Some(&topic));
            return self.reply(frame).await;
        }
        let db = self.state.app.db.clone();
        if let Some(since) = since {
            match events::head_seq(&db, self.org_id).await {
                Ok(head) if head - since > MAX_REPLAY => {
                    return self.reply(protocol::resync_required(&topic, head)).await;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "cannot read the event head");
                    let frame = protocol::error("unavailable", "try again", Some(&topic));
                    return self.reply(frame).await;
                }
            }
        }
        let (cursor, replayed) = match since {
            Some(since) => match self.replay(&db, &topic, since.max(0)).await {
                Ok(done) => done?,
                Err(error) => {
                    tracing::warn!(%error, "cannot replay events");
                    let frame = protocol::error("unavailable", "try again", Some(&topic));
                    return self.reply(frame).await;
                }
            },
            None => match events::head_seq(&db, self.org_id).await {
                Ok(head) => (head, 0),
                Err(error) => {
                    tracing::warn!(%error, "cannot read the event head");
                    let frame = protocol::error("unavailable", "try again", Some(&topic));
                    return self.reply(frame).await;
                }
            },
        };
        // A long replay kept this loop from reading pongs; the peer was evidently alive.
        self.last_heard = Instant::now();
        if self.subscriptions.insert(topic.clone(), cursor).is_none() {
            metrics::gauge!("ws_subscriptions").increment(1.0);
        }
        self.reply(protocol::subscribed(&topic, cursor, replayed))
            .await
    }

    /// Sends what `topic` missed after `since`, from the events table. The live stream was
    /// joined before, so whatever commits during the replay is queued and delivered after
    /// it; the returned cursor makes sure nothing comes twice.
    async fn replay(
        &mut self,
        db: &steelyard_store::Db,
        topic: &str,
        since: i64,
    ) -> Result<Option<(i64, u64)>, steelyard_store::StoreError> {
        let mut cursor = since;
        let mut replayed = 0;
        loop {
            let (records, more) = events::list(
                db,
                self.org_id,
                &EventFilter::default(),
                cursor,
                REPLAY_PAGE,
            )
            .await?;
            for record in &records {
                cursor = record.seq;
                let event = LiveEvent::new(record);
                if let Some(frame) = event.frame(topic)
                    && self.visible(&event)
                {
                    if !feed(&mut self.socket, frame.clone()).await {
                        return Ok(None);
                    }
                    replayed += 1;
                }
            }
            // A page goes out in writes of the socket's buffer size, not one per event.
            if !flush(&mut self.socket).await {
                return Ok(None);
            }
            if !more {
                break;
            }
        }
        metrics::counter!("ws_replayed_events_total").increment(replayed);
        self.messages_sent.increment(replayed);
        Ok(Some((cursor, replayed)))
    }
}
