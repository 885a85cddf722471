//! Which rows the table shows, in which order: a pure function of the rows
//! and a [`Query`], cheap enough for 100 000 rows and run off the input
//! path when the rows are many (see `ui::mod`).

use std::cmp::Ordering;

use mobile_session_proto::{Status, Unpushed};

use super::model::Row;

/// The sortable columns, in the order the sort key cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Device,
    Status,
    Os,
    Email,
    Unpushed,
    App,
    Id,
}

impl Column {
    pub const ALL: [Column; 7] = [
        Column::Device,
        Column::Status,
        Column::Os,
        Column::Email,
        Column::Unpushed,
        Column::App,
        Column::Id,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Device => "Device",
            Column::Status => "Status",
            Column::Os => "OS",
            Column::Email => "E-mail",
            Column::Unpushed => "Unpushed",
            Column::App => "App",
            Column::Id => "Id",
        }
    }

    fn position(self) -> usize {
        Column::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }

    pub fn next(self) -> Column {
        Column::ALL[(self.position() + 1) % Column::ALL.len()]
    }

    pub fn previous(self) -> Column {
        Column::ALL[(self.position() + Column::ALL.len() - 1) % Column::ALL.len()]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

impl Direction {
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Ascending => "▲",
            Direction::Descending => "▼",
        }
    }

    pub fn flipped(self) -> Direction {
        match self {
            Direction::Ascending => Direction::Descending,
            Direction::Descending => Direction::Ascending,
        }
    }
}

/// What the user asked to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// One app folder, or every app.
    pub app: Option<String>,
    /// Lower-case text matched against e-mail, device description and id.
    pub filter: String,
    pub sort: Column,
    pub direction: Direction,
}

impl Default for Query {
    fn default() -> Self {
        Self {
            app: None,
            filter: String::new(),
            sort: Column::Device,
            direction: Direction::Ascending,
        }
    }
}

/// Indices into `rows` of the rows `query` keeps, in display order.
pub fn compute(rows: &[Row], query: &Query) -> Vec<u32> {
    let mut order: Vec<u32> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| query.app.as_deref().is_none_or(|a| r.key.app == a))
        .filter(|(_, r)| query.filter.is_empty() || r.haystack.contains(query.filter.as_str()))
        .map(|(i, _)| i as u32)
        .collect();
    order.sort_unstable_by(|&a, &b| {
        let (ra, rb) = (&rows[a as usize], &rows[b as usize]);
        let primary = compare(ra, rb, query.sort);
        let primary = match query.direction {
            Direction::Ascending => primary,
            Direction::Descending => primary.reverse(),
        };
        // Ties always in the same order, so that a reload never shuffles
        // equal rows under the cursor.
        primary
            .then_with(|| ra.key.app.cmp(&rb.key.app))
            .then_with(|| ra.key.id.cmp(&rb.key.id))
    });
    order
}

fn compare(a: &Row, b: &Row, column: Column) -> Ordering {
    match column {
        Column::Device => text(&a.device_key, &b.device_key),
        Column::Status => status_rank(a.status).cmp(&status_rank(b.status)),
        Column::Os => text(&a.os_key, &b.os_key),
        Column::Email => text(&a.email_key, &b.email_key),
        Column::Unpushed => unpushed_rank(a).cmp(&unpushed_rank(b)),
        Column::App => text(&a.app_key, &b.app_key),
        Column::Id => a
            .key
            .id
            .bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.key.id.bytes().map(|c| c.to_ascii_lowercase())),
    }
}

/// Blank values sort after every other value (as in a spreadsheet).
fn text(a: &str, b: &str) -> Ordering {
    (a.is_empty(), a).cmp(&(b.is_empty(), b))
}

fn status_rank(s: Option<Status>) -> u8 {
    match s {
        Some(Status::Pending) => 0,
        Some(Status::Accepted) => 1,
        None => 2,
    }
}

/// Rows waiting for a push come first.
fn unpushed_rank(r: &Row) -> u8 {
    if r.invalid.is_some() {
        return 3;
    }
    match r.unpushed {
        Some(Unpushed::New) => 0,
        Some(Unpushed::Changed) => 1,
        Some(Unpushed::Deleted) => 2,
        Some(Unpushed::Invalid) => 3,
        None => 4,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ui::model::tests::session_row;
    use std::time::Instant;

    fn rows() -> Vec<Row> {
        let mut v = vec![
            session_row("b.app", "0003", "iPhone X", "iOS", "zed@example.com"),
            session_row("a.app", "0002", "Pixel 7", "Android", ""),
            session_row("a.app", "0001", "ipad Pro", "ipadOS", "amy@example.com"),
            session_row("b.app", "0004", "", "iOS", "bob@example.com"),
        ];
        v[1].status = Some(Status::Pending);
        v[3].unpushed = Some(Unpushed::New);
        v.into_iter().map(Row::new).collect()
    }

    fn ids(rows: &[Row], order: &[u32]) -> Vec<String> {
        order
            .iter()
            .map(|&i| rows[i as usize].key.id.clone())
            .collect()
    }

    fn query(sort: Column, direction: Direction) -> Query {
        Query {
            sort,
            direction,
            ..Query::default()
        }
    }

    #[test]
    fn sorts_by_every_column_case_insensitively_blanks_last() {
        let rows = rows();
        let asc = |c| ids(&rows, &compute(&rows, &query(c, Direction::Ascending)));
        assert_eq!(asc(Column::Device), ["0001", "0003", "0002", "0004"]);
        assert_eq!(asc(Column::Status), ["0002", "0001", "0003", "0004"]);
        assert_eq!(asc(Column::Os), ["0002", "0003", "0004", "0001"]);
        assert_eq!(asc(Column::Email), ["0001", "0004", "0003", "0002"]);
        assert_eq!(asc(Column::Unpushed), ["0004", "0001", "0002", "0003"]);
        assert_eq!(asc(Column::App), ["0001", "0002", "0003", "0004"]);
        assert_eq!(asc(Column::Id), ["0001", "0002", "0003", "0004"]);
        let desc = ids(
            &rows,
            &compute(&rows, &query(Column::Device, Direction::Descending)),
        );
        assert_eq!(desc, ["0004", "0002", "0003", "0001"]);
    }

    #[test]
    fn the_app_column_sorts_by_the_name_shown_not_the_folder() {
        let mut rows = rows();
        for r in &mut rows {
            r.set_app_name(if r.key.app == "a.app" {
                "Zeta"
            } else {
                "alpha"
            });
        }
        let order = compute(&rows, &query(Column::App, Direction::Ascending));
        assert_eq!(ids(&rows, &order), ["0003", "0004", "0001", "0002"]);
    }

    #[test]
    fn filters_by_app_and_by_email_device_or_id() {
        let rows = rows();
        let q = |app: Option<&str>, filter: &str| Query {
            app: app.map(str::to_string),
            filter: filter.into(),
            ..Query::default()
        };
        assert_eq!(
            ids(&rows, &compute(&rows, &q(Some("a.app"), ""))),
            ["0001", "0002"]
        );
        assert_eq!(ids(&rows, &compute(&rows, &q(None, "bob@"))), ["0004"]);
        assert_eq!(ids(&rows, &compute(&rows, &q(None, "ipad"))), ["0001"]);
        assert_eq!(ids(&rows, &compute(&rows, &q(None, "0003"))), ["0003"]);
        assert!(compute(&rows, &q(Some("b.app"), "pixel")).is_empty());
    }

    #[test]
    fn the_sort_key_cycles_through_every_column() {
        let mut c = Column::Device;
        let mut seen = vec![c];
        for _ in 1..Column::ALL.len() {
            c = c.next();
            seen.push(c);
        }
        assert_eq!(seen, Column::ALL);
        assert_eq!(c.next(), Column::Device);
        assert_eq!(Column::Device.previous(), Column::Id);
    }

    /// 100 000 rows as a large site has them.
    pub fn many_rows(n: usize) -> Vec<Row> {
        (0..n)
            .map(|i| {
                let mut r = session_row(
                    &format!("TEAM{}.com.example.app{}", i % 7, i % 13),
                    &format!("{:040x}", (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                    &format!("iPhone {}", i % 97),
                    if i % 3 == 0 { "Android" } else { "iOS" },
                    &format!("user{}@example{}.com", i, i % 11),
                );
                if i % 5 == 0 {
                    r.status = Some(Status::Pending);
                }
                Row::new(r)
            })
            .collect()
    }

    /// Measures what a keystroke in the filter, or a sort change, costs with
    /// 100 000 rows: printed (`cargo test -- --nocapture`), not asserted
    /// against the clock; the results are checked for correctness.
    #[test]
    fn hundred_thousand_rows_sort_and_filter() {
        let rows = many_rows(100_000);
        let start = Instant::now();
        let all = compute(&rows, &Query::default());
        let sorted = start.elapsed();
        assert_eq!(all.len(), 100_000);
        assert!(all
            .windows(2)
            .all(|w| rows[w[0] as usize].device_key <= rows[w[1] as usize].device_key));

        let start = Instant::now();
        let q = Query {
            filter: "user4242".into(),
            sort: Column::Email,
            direction: Direction::Descending,
            ..Query::default()
        };
        let found = compute(&rows, &q);
        let filtered = start.elapsed();
        // user4242@, user42420@ … user42429@
        assert_eq!(found.len(), 11);
        assert!(found
            .windows(2)
            .all(|w| rows[w[0] as usize].email_key >= rows[w[1] as usize].email_key));
        eprintln!("100 000 rows: sort by device {sorted:?}, filter + sort by e-mail {filtered:?}");
    }
}
