//! [`Client::notify`]: push notifications sent by the daemon.

use mobile_session_proto::{NotifyReply, NotifyRequest, Request, Response};

use crate::conn::unexpected;
use crate::{Client, ClientError};

impl Client {
    /// Sends a push notification to the devices of an app's live sessions
    /// (APNs for iOS, FCM for Android), or lists them with `dry_run`.
    /// Admins only. Its cost grows with the devices (and the services'
    /// retries), so it has no request timeout, as `Request::scales_with_data`
    /// says.
    ///
    /// An app without credentials is an error answer with
    /// [`ErrorCode::NotifyConfig`](crate::ErrorCode::NotifyConfig) whose
    /// message names the setting; failures of single devices are in the
    /// reply's results.
    pub async fn notify(&self, request: NotifyRequest) -> Result<NotifyReply, ClientError> {
        match self.request(&Request::Notify(request)).await? {
            Response::Notified(r) => Ok(r),
            r => Err(unexpected(r)),
        }
    }
}
