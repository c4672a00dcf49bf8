//! `gc`: run the idle sweep now.

use crate::daemon::Daemon;
use cap_proto::Reply;
use cap_proto::reply::GcReport;

pub fn handle(d: &Daemon) -> Reply {
    Reply::Gc(GcReport { ended: d.sweep() })
}
