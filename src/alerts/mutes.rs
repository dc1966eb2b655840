//! Mutes: `mute uploads [IMAGE|all] DURATION` silences failed-upload alerts until it ends,
//! which is announced. Mutes and the failures they kept quiet are stored, so a restart ends a
//! mute when it was due and `status` still lists what it hid; `unmute` ends them all and says
//! what they hid.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Alerts;
use crate::chat::{Chat, Kind, Outgoing};
use crate::messages::alerts as say;
use crate::store::{MuteRecord, MutedFailure, StoreError};
use crate::target::ImageName;

impl<C: Chat> Alerts<C> {
    /// Silences failed-upload alerts of `image` (all if `None`) for `duration`; when the mute
    /// ends by itself, `channel` is told. Returns when it ends.
    pub fn mute(
        &self,
        image: Option<&ImageName>,
        duration: Duration,
        channel: &str,
    ) -> Result<DateTime<Utc>, StoreError> {
        let now = Utc::now();
        let until = chrono::Duration::from_std(duration)
            .ok()
            .and_then(|duration| now.checked_add_signed(duration))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mute = self
            .inner
            .store
            .add_mute(image.map(ToString::to_string), until, channel)?;
        self.end_mute_when_due(mute);
        Ok(until)
    }

    /// Ends every mute now; returns how many there were and the failures they kept quiet
    /// (forgotten once said).
    pub fn unmute(&self) -> Result<(usize, Vec<String>), StoreError> {
        let store = &self.inner.store;
        let ended = store.end_all_mutes()?;
        let hidden = self.muted_failures()?;
        store.clear_muted()?;
        Ok((ended, hidden))
    }

    /// The failures mutes kept quiet, for `status`.
    pub fn muted_failures(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .inner
            .store
            .muted()?
            .into_iter()
            .map(|failure| failure.line)
            .collect())
    }

    /// Whether alerts of `image` are muted now; if so, the failure (`line`) is recorded for
    /// `status` instead of being told.
    pub(crate) fn muted(&self, image: &str, link: &str, line: String) -> bool {
        let now = Utc::now();
        let mutes = match self.inner.store.mutes() {
            Ok(mutes) => mutes,
            Err(error) => {
                // Errs on the side of alerting.
                tracing::error!(%error, "reading the mutes failed");
                return false;
            }
        };
        let muted = mutes.iter().any(|mute| {
            mute.until > now && mute.image.as_deref().is_none_or(|muted| muted == image)
        });
        if muted {
            let failure = MutedFailure { at: now, line };
            if let Err(error) = self.inner.store.add_muted(link, &failure) {
                tracing::error!(%error, "recording a muted failure failed");
            }
        }
        muted
    }

    /// After a restart, every stored mute ends when it was due.
    pub(super) fn resume_mutes(&self) {
        match self.inner.store.mutes() {
            Ok(mutes) => {
                for mute in mutes {
                    self.end_mute_when_due(mute);
                }
            }
            Err(error) => tracing::error!(%error, "reading the mutes failed"),
        }
    }

    fn end_mute_when_due(&self, mute: MuteRecord) {
        let alerts = self.clone();
        tokio::spawn(async move {
            let left = (mute.until - Utc::now()).to_std().unwrap_or_default();
            tokio::time::sleep(left).await;
            let store = &alerts.inner.store;
            match store.end_mute(mute.number) {
                Ok(true) => {}
                // Ended already, by `unmute`.
                Ok(false) => return,
                Err(error) => {
                    tracing::error!(%error, "ending a mute failed");
                    return;
                }
            }
            let hidden = store.muted().map(|muted| muted.len()).unwrap_or_default();
            let text = say::mute_ended(mute.image.as_deref(), hidden);
            if let Err(error) = alerts
                .inner
                .chat
                .send(&mute.channel, Outgoing::new(Kind::Alert, text))
                .await
            {
                tracing::warn!(%error, "announcing the end of a mute failed");
            }
        });
    }
}
