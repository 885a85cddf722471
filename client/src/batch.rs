//! A change naming more sessions than one request holds goes in several:
//! the names are cut into runs whose request, as the encoder writes it,
//! fits one frame. Sizes come from the encoder itself, never from an
//! estimate of its format.

use mobile_session_proto::connection::encoded_len;
use mobile_session_proto::Request;

use crate::ClientError;

/// `names` cut, in order, into the longest runs whose `request` encodes in
/// at most `max` bytes: one run, the whole list (possibly empty), unless it
/// does not fit. A name too long for a request of its own is a run alone
/// (sending it then says the request is too large).
pub(crate) fn runs(
    names: &[String],
    max: usize,
    request: impl Fn(Vec<String>) -> Request,
) -> Result<Vec<&[String]>, ClientError> {
    let len = |n: usize| encoded_len(&(n as u64)).map_err(ClientError::frame);
    // The request without its list, then the list: its length, then each
    // name as the encoder writes it alone.
    let fixed = encoded_len(&request(Vec::new())).map_err(ClientError::frame)? - len(0)?;
    let mut runs = Vec::new();
    let (mut start, mut names_size) = (0, 0);
    for (i, name) in names.iter().enumerate() {
        let size = encoded_len(name).map_err(ClientError::frame)?;
        if i > start && fixed + len(i + 1 - start)? + names_size + size > max {
            runs.push(&names[start..i]);
            (start, names_size) = (i, 0);
        }
        names_size += size;
    }
    runs.push(&names[start..]);
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mobile_session_proto::connection::encode;
    use mobile_session_proto::Status;
    use proptest::prelude::*;

    fn set(names: Vec<String>) -> Request {
        Request::SetStatus {
            status: Status::Accepted,
            sessions: names,
            push: true,
        }
    }

    fn size(names: &[String]) -> usize {
        encode(&set(names.to_vec())).unwrap().len()
    }

    #[test]
    fn names_go_in_one_request_unless_they_do_not_fit() {
        let names: Vec<String> = (0..10).map(|i| format!("{i:040}")).collect();
        let all = size(&names);
        assert_eq!(runs(&names, all, set).unwrap(), [&names[..]]);
        assert_eq!(runs(&[], all, set).unwrap(), [&[] as &[String]]);
        // One byte short: the last name goes in a second request.
        let cut = runs(&names, all - 1, set).unwrap();
        assert_eq!(cut.iter().map(|r| r.len()).collect::<Vec<_>>(), [9, 1]);
        // A name larger than a request alone is a run of its own.
        assert_eq!(runs(&names[..2], 10, set).unwrap().len(), 2);
    }

    proptest! {
        /// Every run fits (unless it is one name alone), none could take
        /// the next name, and together they are the list, in order.
        #[test]
        fn runs_are_the_longest_that_fit(
            names in proptest::collection::vec("[0-9a-f]{0,300}", 0..60),
            max in 10usize..3000,
        ) {
            let cut = runs(&names, max, set).unwrap();
            prop_assert_eq!(cut.concat(), names.clone());
            let mut at = 0;
            for run in &cut {
                prop_assert!(run.len() == 1 || size(run) <= max);
                at += run.len();
                if at < names.len() && !run.is_empty() {
                    let grown: Vec<String> = run.iter().chain([&names[at]]).cloned().collect();
                    prop_assert!(size(&grown) > max);
                }
            }
        }
    }
}
