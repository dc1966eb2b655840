//! The terminal adapter for `image-builder build` and `wait`: progress bars show the boards, so
//! board messages are not printed; alerts are, above the bars. The final table and summary are
//! the command's own output.

use indicatif::MultiProgress;

use super::{Chat, ChatError, Kind, MessageId, Outgoing};

/// Prints alerts above `bars`.
#[derive(Clone)]
pub struct Terminal {
    bars: MultiProgress,
}

impl Terminal {
    /// A terminal adapter printing above these bars.
    pub fn new(bars: MultiProgress) -> Terminal {
        Terminal { bars }
    }
}

impl Chat for Terminal {
    async fn send(&self, _channel: &str, message: Outgoing) -> Result<MessageId, ChatError> {
        match message.kind {
            Kind::Alert | Kind::Reply => self.bars.suspend(|| println!("{}", message.text)),
            Kind::Board | Kind::Summary => {}
        }
        Ok(MessageId("terminal".into()))
    }

    async fn edit(
        &self,
        _channel: &str,
        _id: &MessageId,
        _message: Outgoing,
    ) -> Result<(), ChatError> {
        Ok(())
    }
}
