//! Daemon settings: command-line flags over an optional TOML file (kebab-case keys, unknown
//! keys refused) over defaults, validated up front.
//!
//! ```toml
//! key-file = "/etc/crowdlight/venue.key"   # 64 hex digits or 32 raw bytes, mode 0600
//! group = "239.255.77.77"
//! port = 7777
//! interface = "127.0.0.1"                  # IPv4 address of the sending interface
//! ttl = 1
//! multicast-loop = true
//! socket = "/run/crowdlight/beacon.sock"
//! state-file = "/var/lib/crowdlight/beacon-state.json"
//! show = "/etc/crowdlight/show.toml"
//! lead-ms = 1500
//! osc = "127.0.0.1:9000"                   # OSC input (off when absent)
//! osc-allow = ["10.0.0.20"]                # senders accepted when osc is not loopback
//! sacn = 1                                 # sACN universe to listen to (off when absent)
//! artnet = 0                               # Art-Net port-address to listen to (off when absent)
//! trigger-address = 1                      # value N fires the show's N-th cue
//! control-address = 2                      # 64-127 hold, 128-191 resume, 192-255 blackout
//! patch = ["stage-left=10", "stage-right=13:rgbd"]
//! desk-allow = ["10.0.0.21"]               # desks accepted when interface is not loopback
//! ```
//!
//! `config/beacon.toml` documents every option.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::desk::{DeskConfig, Patch, ZonePatch};
use crate::engine::{DEFAULT_LEAD_US, DEFAULT_REPEAT_US, EngineConfig};
use crate::paths;
use crate::wire::{Key, KeyError};

/// Default multicast group.
pub const DEFAULT_GROUP: Ipv4Addr = crowdlight_proto::DEFAULT_GROUP;
/// Default multicast port.
pub const DEFAULT_PORT: u16 = crowdlight_proto::DEFAULT_PORT;
/// Default sending interface.
pub const DEFAULT_INTERFACE: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// The example show `--dev` loads when no show is given.
pub const DEV_SHOW: &str = "shows/examples/intermission.toml";

/// Options shared by the config file and the `beacon run` flags (flags win).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, clap::Args)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RunOptions {
    /// Venue key file: 64 hex digits or 32 raw bytes, not accessible by group/others.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Multicast group.
    #[arg(long)]
    pub group: Option<Ipv4Addr>,
    /// Multicast port.
    #[arg(long)]
    pub port: Option<u16>,
    /// IPv4 address of the interface to send on.
    #[arg(long)]
    pub interface: Option<Ipv4Addr>,
    /// Multicast TTL.
    #[arg(long)]
    pub ttl: Option<u32>,
    /// Loop multicast back to this host (for a relay on the same box).
    #[arg(long)]
    pub multicast_loop: Option<bool>,
    /// State file: the show, cue and state, saved on every change and resumed at start
    /// (default: beacon-state.json next to the socket).
    #[arg(long)]
    pub state_file: Option<PathBuf>,
    /// Show to load at start when no persisted state names one (a persisted show wins; use
    /// --fresh to start from this one).
    #[arg(long)]
    pub show: Option<PathBuf>,
    /// GO lead time in ms.
    #[arg(long)]
    pub lead_ms: Option<u64>,
    /// OSC input: UDP address to listen on (loopback, or any address with --osc-allow).
    #[arg(long)]
    pub osc: Option<SocketAddr>,
    /// Source addresses accepted by the OSC input (comma-separated; default: loopback only).
    #[arg(long, value_delimiter = ',')]
    pub osc_allow: Option<Vec<IpAddr>>,
    /// Lighting desk: listen for sACN (E1.31) on this universe (1-63999), multicast
    /// 239.255.{hi}.{lo} on the beacon's interface and unicast, UDP 5568. Off when absent.
    #[arg(long, value_name = "UNIVERSE")]
    pub sacn: Option<u16>,
    /// Lighting desk: listen for Art-Net ArtDmx on this 15-bit port-address (0-32767), UDP
    /// 6454; answers ArtPoll. Off when absent.
    #[arg(long, value_name = "UNIVERSE")]
    pub artnet: Option<u16>,
    /// DMX address (1-512) of the cue-trigger channel: value N (1-255) fires the show's N-th
    /// cue, 0 nothing; a change of value is one GO.
    #[arg(long, value_name = "A")]
    pub trigger_address: Option<u16>,
    /// DMX address (1-512) of the control channel: a change into 64-127 holds, 128-191
    /// resumes, 192-255 blacks out (0-63: nothing).
    #[arg(long, value_name = "A")]
    pub control_address: Option<u16>,
    /// Patch a zone as an RGB fixture at DMX address A (A, A+1, A+2); `ZONE=A:rgbd` adds a
    /// master dimmer at A+3. Repeat for each zone.
    #[arg(long, value_name = "ZONE=A")]
    pub patch: Option<Vec<String>>,
    /// Desk addresses accepted (comma-separated); without it only loopback senders are.
    #[arg(long, value_delimiter = ',')]
    pub desk_allow: Option<Vec<IpAddr>>,
    /// UDP port of the sACN input (E1.31 fixes 5568; other values for tests only).
    #[arg(long, hide = true)]
    pub sacn_port: Option<u16>,
    /// UDP port of the Art-Net input (Art-Net fixes 6454; other values for tests only).
    #[arg(long, hide = true)]
    pub artnet_port: Option<u16>,
    /// Operator socket (the global `--socket`/`CROWDLIGHT_SOCKET` wins).
    #[arg(skip)]
    pub socket: Option<PathBuf>,
}

impl RunOptions {
    /// `self` where set, else `other`.
    fn or(self, other: RunOptions) -> RunOptions {
        RunOptions {
            key_file: self.key_file.or(other.key_file),
            group: self.group.or(other.group),
            port: self.port.or(other.port),
            interface: self.interface.or(other.interface),
            ttl: self.ttl.or(other.ttl),
            multicast_loop: self.multicast_loop.or(other.multicast_loop),
            state_file: self.state_file.or(other.state_file),
            show: self.show.or(other.show),
            lead_ms: self.lead_ms.or(other.lead_ms),
            osc: self.osc.or(other.osc),
            osc_allow: self.osc_allow.or(other.osc_allow),
            sacn: self.sacn.or(other.sacn),
            artnet: self.artnet.or(other.artnet),
            trigger_address: self.trigger_address.or(other.trigger_address),
            control_address: self.control_address.or(other.control_address),
            patch: self.patch.or(other.patch),
            desk_allow: self.desk_allow.or(other.desk_allow),
            sacn_port: self.sacn_port.or(other.sacn_port),
            artnet_port: self.artnet_port.or(other.artnet_port),
            socket: self.socket.or(other.socket),
        }
    }
}

/// Where the initial show comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialShow {
    /// None configured.
    None,
    /// Given explicitly: failing to compile it is fatal.
    Explicit(PathBuf),
    /// The `--dev` default example: a warning if missing.
    DevDefault(PathBuf),
}

/// The OSC input's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OscSettings {
    /// UDP address to listen on.
    pub listen: SocketAddr,
    /// Source addresses accepted; empty = loopback sources only.
    pub allow: Vec<IpAddr>,
}

impl OscSettings {
    /// Whether a datagram from `source` may drive the beacon.
    pub fn permits(&self, source: IpAddr) -> bool {
        crate::allow::permits(&self.allow, source)
    }
}

/// The desk input's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskSettings {
    /// Universes, patch, allowed senders (the core's config).
    pub desk: DeskConfig,
    /// sACN UDP port.
    pub sacn_port: u16,
    /// Art-Net UDP port.
    pub artnet_port: u16,
}

/// Validated daemon settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Development mode.
    pub dev: bool,
    /// Venue key.
    pub key: Key,
    /// Multicast group.
    pub group: Ipv4Addr,
    /// Multicast port.
    pub port: u16,
    /// Sending interface address.
    pub interface: Ipv4Addr,
    /// Multicast TTL.
    pub ttl: u32,
    /// Multicast loopback.
    pub multicast_loop: bool,
    /// Operator socket path.
    pub socket: PathBuf,
    /// State file path.
    pub state_file: PathBuf,
    /// Initial show.
    pub show: InitialShow,
    /// Engine tunables.
    pub engine: EngineConfig,
    /// OSC input, if enabled.
    pub osc: Option<OscSettings>,
    /// Lighting desk input (sACN / Art-Net), if enabled.
    pub desk: Option<DeskSettings>,
    /// What SIGHUP re-reads: the config file and whether `--show` pinned the show.
    pub reload: ReloadSource,
    /// `beacon run --fresh`: discard the persisted state instead of resuming it.
    pub fresh: bool,
}

/// Where SIGHUP finds the show to reload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadSource {
    /// The config file given to `beacon run`.
    pub config_file: Option<PathBuf>,
    /// The show given by `--show` (it wins over the file).
    pub flag_show: Option<PathBuf>,
}

impl ReloadSource {
    /// The show to reload: `--show`, else the config file's `show`, else `current`.
    pub fn show(&self, current: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
        if let Some(show) = &self.flag_show {
            return Ok(Some(show.clone()));
        }
        let from_file = match &self.config_file {
            Some(file) => read_file(file)?.show,
            None => None,
        };
        Ok(from_file.or_else(|| current.map(Path::to_owned)))
    }
}

/// Why the settings are not usable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why reading failed (not found, permission denied...).
        source: std::io::Error,
    },
    /// The config file is not valid TOML for these options.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (one line).
        message: String,
    },
    /// No key given outside dev mode.
    #[error("no venue key: give --key-file (or key-file in the config), or use --dev")]
    NoKey,
    /// The key file is unusable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The development key outside dev mode.
    #[error("refusing the development key without --dev: generate a venue key (32 random bytes)")]
    DevKey,
    /// A value out of range.
    #[error("invalid {option}: {reason}")]
    Invalid {
        /// The option.
        option: &'static str,
        /// The accepted range or form, for the error message.
        reason: String,
    },
}

/// Reads a TOML config file.
pub fn read_file(path: &Path) -> Result<RunOptions, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e
            .to_string()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" | "),
    })
}

impl Settings {
    /// Resolves flags over the file over defaults. `socket` is the global override.
    pub fn resolve(
        dev: bool,
        flags: RunOptions,
        file: Option<RunOptions>,
        socket: Option<PathBuf>,
    ) -> Result<Settings, ConfigError> {
        let flag_show = flags.show.clone();
        let o = flags.or(file.unwrap_or_default());
        let key = match &o.key_file {
            Some(path) => Key::load(path)?,
            None if dev => Key::dev(),
            None => return Err(ConfigError::NoKey),
        };
        if key.is_dev() && !dev {
            return Err(ConfigError::DevKey);
        }
        let group = o.group.unwrap_or(DEFAULT_GROUP);
        if !group.is_multicast() {
            return Err(ConfigError::Invalid {
                option: "group",
                reason: format!("{group} is not an IPv4 multicast address"),
            });
        }
        let port = o.port.unwrap_or(DEFAULT_PORT);
        if port == 0 {
            return Err(ConfigError::Invalid {
                option: "port",
                reason: "must not be 0".into(),
            });
        }
        let ttl = o.ttl.unwrap_or(1);
        if !(1..=255).contains(&ttl) {
            return Err(ConfigError::Invalid {
                option: "ttl",
                reason: format!("{ttl} is not in 1..=255"),
            });
        }
        let lead_ms = o.lead_ms.unwrap_or(DEFAULT_LEAD_US / 1000);
        if lead_ms > 60_000 {
            return Err(ConfigError::Invalid {
                option: "lead-ms",
                reason: format!("{lead_ms} ms is more than a minute"),
            });
        }
        let osc = match o.osc {
            None => None,
            Some(listen) => {
                let allow = o.osc_allow.clone().unwrap_or_default();
                if !listen.ip().is_loopback() && allow.is_empty() {
                    return Err(ConfigError::Invalid {
                        option: "osc",
                        reason: format!(
                            "{listen} is not a loopback address: list the desks allowed to send in osc-allow"
                        ),
                    });
                }
                if listen.port() == 0 {
                    return Err(ConfigError::Invalid {
                        option: "osc",
                        reason: "the port must not be 0".into(),
                    });
                }
                Some(OscSettings { listen, allow })
            }
        };
        if o.osc.is_none() && o.osc_allow.as_ref().is_some_and(|a| !a.is_empty()) {
            return Err(ConfigError::Invalid {
                option: "osc-allow",
                reason: "given without osc (the OSC input is off)".into(),
            });
        }
        let interface = o.interface.unwrap_or(DEFAULT_INTERFACE);
        let desk = desk_settings(&o, interface)?;
        let socket = socket
            .or(o.socket)
            .unwrap_or_else(paths::default_socket_path);
        let state_file = o
            .state_file
            .unwrap_or_else(|| paths::default_state_path(&socket));
        let show = match o.show {
            Some(p) => InitialShow::Explicit(p),
            None if dev => InitialShow::DevDefault(PathBuf::from(DEV_SHOW)),
            None => InitialShow::None,
        };
        Ok(Settings {
            dev,
            key,
            group,
            port,
            interface,
            ttl,
            multicast_loop: o.multicast_loop.unwrap_or(true),
            socket,
            state_file,
            show,
            engine: EngineConfig {
                lead_us: lead_ms * 1000,
                repeat_us: DEFAULT_REPEAT_US,
            },
            osc,
            desk,
            reload: ReloadSource {
                config_file: None,
                flag_show,
            },
            fresh: false,
        })
    }
}

/// The `[default: …]` each `beacon run` flag shows in `--help`: what [`Settings::resolve`]
/// picks when neither the flag nor the config file sets it (argument id → value).
pub fn flag_defaults() -> Vec<(&'static str, String)> {
    let s = Settings::resolve(true, RunOptions::default(), None, Some(PathBuf::new()))
        .expect("the built-in defaults are valid settings");
    vec![
        ("group", s.group.to_string()),
        ("port", s.port.to_string()),
        ("interface", s.interface.to_string()),
        ("ttl", s.ttl.to_string()),
        ("multicast_loop", s.multicast_loop.to_string()),
        ("lead_ms", (s.engine.lead_us / 1000).to_string()),
        (
            "osc",
            s.osc.map_or("off".to_owned(), |o| o.listen.to_string()),
        ),
    ]
}

fn invalid(option: &'static str, reason: String) -> ConfigError {
    ConfigError::Invalid { option, reason }
}

/// The desk settings: `None` when neither `sacn` nor `artnet` is set (then the patch keys
/// must be absent too). The patch is checked for range and overlaps here; zones against the
/// show by `beacon validate` and at start.
fn desk_settings(o: &RunOptions, interface: Ipv4Addr) -> Result<Option<DeskSettings>, ConfigError> {
    if o.sacn.is_none() && o.artnet.is_none() {
        let stray = [
            ("trigger-address", o.trigger_address.is_some()),
            ("control-address", o.control_address.is_some()),
            ("patch", o.patch.is_some()),
            ("desk-allow", o.desk_allow.is_some()),
        ];
        if let Some((option, _)) = stray.iter().find(|(_, set)| *set) {
            return Err(invalid(
                option,
                "given without sacn or artnet (the desk input is off)".into(),
            ));
        }
        return Ok(None);
    }
    if let Some(u) = o.sacn
        && !(1..=crate::desk::sacn::MAX_UNIVERSE).contains(&u)
    {
        return Err(invalid("sacn", format!("universe {u} is not in 1..=63999")));
    }
    if let Some(u) = o.artnet
        && u > crate::desk::artnet::MAX_PORT_ADDRESS
    {
        return Err(invalid(
            "artnet",
            format!("port-address {u} is not in 0..=32767"),
        ));
    }
    let zones = o
        .patch
        .iter()
        .flatten()
        .map(|p| p.parse::<ZonePatch>().map_err(|e| invalid("patch", e)))
        .collect::<Result<Vec<_>, _>>()?;
    let patch = Patch {
        trigger: o.trigger_address,
        control: o.control_address,
        zones,
    };
    if patch.trigger.is_none() && patch.control.is_none() && patch.zones.is_empty() {
        return Err(invalid(
            "patch",
            "the desk input has nothing patched: give trigger-address and/or patch".into(),
        ));
    }
    let problems = patch.check(None);
    if !problems.is_empty() {
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(invalid("patch", text.join("; ")));
    }
    let allow = o.desk_allow.clone().unwrap_or_default();
    if !interface.is_loopback() && allow.is_empty() {
        return Err(invalid(
            "desk-allow",
            format!(
                "the interface {interface} is not loopback: list the desks allowed to send in desk-allow"
            ),
        ));
    }
    let port = |option: &'static str, p: Option<u16>, default: u16| match p {
        Some(0) => Err(invalid(option, "must not be 0".into())),
        p => Ok(p.unwrap_or(default)),
    };
    Ok(Some(DeskSettings {
        desk: DeskConfig {
            sacn: o.sacn,
            artnet: o.artnet,
            patch,
            allow,
            interface,
        },
        sacn_port: port("sacn-port", o.sacn_port, crate::desk::sacn::PORT)?,
        artnet_port: port("artnet-port", o.artnet_port, crate::desk::artnet::PORT)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_needs_nothing() {
        let s = Settings::resolve(true, RunOptions::default(), None, None).unwrap();
        assert!(s.key.is_dev());
        assert_eq!((s.group, s.port, s.ttl), (DEFAULT_GROUP, 7777, 1));
        assert_eq!(s.show, InitialShow::DevDefault(DEV_SHOW.into()));
        assert_eq!(s.engine.lead_us, 1_500_000);
    }

    #[test]
    fn production_refuses_missing_or_dev_key() {
        assert!(matches!(
            Settings::resolve(false, RunOptions::default(), None, None),
            Err(ConfigError::NoKey)
        ));
        let dev_file = RunOptions {
            key_file: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/dev.key")),
            ..Default::default()
        };
        assert!(matches!(
            Settings::resolve(false, dev_file, None, None),
            Err(ConfigError::DevKey)
        ));
    }

    #[test]
    fn file_and_flags_merge() {
        let file: RunOptions = toml::from_str(
            "port = 9000\nttl = 4\nlead-ms = 500\nsocket = \"/x/b.sock\"\nmulticast-loop = false\n",
        )
        .unwrap();
        let flags = RunOptions {
            port: Some(9100),
            ..Default::default()
        };
        let s = Settings::resolve(true, flags, Some(file), None).unwrap();
        assert_eq!((s.port, s.ttl, s.engine.lead_us), (9100, 4, 500_000));
        assert_eq!(s.socket, PathBuf::from("/x/b.sock"));
        assert_eq!(s.state_file, PathBuf::from("/x/beacon-state.json"));
        assert!(!s.multicast_loop);
        let bad = toml::from_str::<RunOptions>("prot = 1\n");
        assert!(bad.is_err());
        let group: RunOptions = toml::from_str("group = \"10.0.0.1\"\n").unwrap();
        assert!(matches!(
            Settings::resolve(true, RunOptions::default(), Some(group), None),
            Err(ConfigError::Invalid {
                option: "group",
                ..
            })
        ));
    }

    #[test]
    fn desk_keys() {
        let file: RunOptions =
            toml::from_str("sacn = 7\ntrigger-address = 1\npatch = [\"a=2\", \"b=5:rgbd\"]\n")
                .unwrap();
        let s = Settings::resolve(true, RunOptions::default(), Some(file), None).unwrap();
        let desk = s.desk.unwrap();
        assert_eq!((desk.desk.sacn, desk.sacn_port), (Some(7), 5568));
        assert_eq!(desk.desk.patch.zones.len(), 2);
        assert!(
            Settings::resolve(true, RunOptions::default(), None, None)
                .unwrap()
                .desk
                .is_none()
        );
        for (toml, option) in [
            ("sacn = 0\ntrigger-address = 1\n", "sacn"),
            ("artnet = 40000\ntrigger-address = 1\n", "artnet"),
            ("sacn = 1\n", "patch"),
            ("sacn = 1\npatch = [\"a=511\"]\n", "patch"),
            (
                "sacn = 1\ntrigger-address = 3\npatch = [\"a=2\"]\n",
                "patch",
            ),
            ("trigger-address = 3\n", "trigger-address"),
            (
                "sacn = 1\ntrigger-address = 1\ninterface = \"10.0.0.1\"\n",
                "desk-allow",
            ),
        ] {
            let file: RunOptions = toml::from_str(toml).unwrap();
            match Settings::resolve(true, RunOptions::default(), Some(file), None) {
                Err(ConfigError::Invalid { option: o, .. }) => assert_eq!(o, option, "{toml}"),
                other => panic!("{toml}: {other:?}"),
            }
        }
        assert!(toml::from_str::<RunOptions>("sacn-universe = 1\n").is_err());
    }
}
