//! The error a command answers with: a wire code and a message for a human.

use mobile_session_proto::{ErrorCode, ErrorReply};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CmdError {
    pub code: ErrorCode,
    pub message: String,
}

impl CmdError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, m)
    }
    pub fn ambiguous(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::Ambiguous, m)
    }
    pub fn internal(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, m)
    }
    pub fn permission_denied(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, m)
    }
    pub fn unknown_token(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnknownToken, m)
    }
    pub fn into_reply(self) -> ErrorReply {
        ErrorReply {
            code: self.code,
            message: self.message,
        }
    }
}

impl From<crate::store::StoreError> for CmdError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        let code = match &e {
            StoreError::BadName(_) => ErrorCode::BadRequest,
            StoreError::NotRegular { .. } | StoreError::TooLarge { .. } => ErrorCode::InvalidFile,
            StoreError::Changed { .. } => {
                return Self::new(
                    ErrorCode::Conflict,
                    format!("{e}: it kept changing while being rewritten; try again"),
                )
            }
            _ if e.is_not_found() => ErrorCode::NotFound,
            _ => ErrorCode::Io,
        };
        Self::new(code, e.to_string())
    }
}
