//! `beacon`: the Crowdlight beacon. The packet format, the venue key and the receiver live in
//! the `crowdlight-proto` crate (shared with the portal and the simulator); [`engine`] is the
//! sans-IO daemon core, [`daemon`] its IO shell, [`operator_messages`] and [`client`] the operator
//! socket, [`osc`] the OSC input, [`desk`] the lighting desk input (sACN, Art-Net), [`allow`]
//! which senders either may hear, [`console`] the operator web page, [`validate`] the config
//! check, [`keygen`] the venue key generator.

// The protocol crate's packet module, under the name the daemon's modules use (not re-exported).
use crowdlight_proto::wire;

pub mod allow;
pub mod client;
pub mod config;
pub mod console;
pub mod daemon;
pub mod desk;
pub mod engine;
pub mod keygen;
pub mod operator_messages;
pub mod osc;
pub mod paths;
pub mod persist;
pub use crowdlight_proto::shutdown;
pub mod timebase;
pub mod validate;
