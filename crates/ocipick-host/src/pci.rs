//! Names of PCI vendors and devices from the PCI ID database (`pci.ids`,
//! from the pciutils project, installed by Debian's `pci.ids` package as
//! `/usr/share/misc/pci.ids` and by hwdata as `/usr/share/hwdata/pci.ids`).
//!
//! Names are for people only: facts and rules keep the numeric IDs, as
//! node-feature-discovery names them.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// The largest database read, in bytes (the whole database is about
/// 1.4 MB); a larger file is not read at all.
pub const MAX_PCI_IDS_BYTES: u64 = 16 << 20;

/// The longest line read, in bytes; longer lines are skipped (with what
/// they would contain: a skipped vendor line skips its devices too).
pub const MAX_PCI_IDS_LINE: usize = 1024;

/// Where distributions install the database, relative to the root.
pub const PCI_IDS_PATHS: [&str; 3] = [
    "usr/share/misc/pci.ids",
    "usr/share/hwdata/pci.ids",
    "usr/share/pci.ids",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Vendor {
    name: String,
    devices: BTreeMap<u16, Device>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Device {
    name: String,
    subsystems: BTreeMap<(u16, u16), String>,
}

/// The vendor, device and subsystem names of a PCI ID database.
///
/// The format, one entry a line: `vvvv  Vendor name`; under it
/// `\tdddd  Device name`; under that `\t\tssss ssss  Subsystem name`
/// (subvendor, subdevice); `#` starts a comment. The class section
/// (`C cc  Class name` with its subclass and programming-interface lines)
/// is not about vendors and is skipped, as is any other section. Lines
/// that do not read as an entry are skipped, and so are the entries under
/// them; the first of two entries with the same ID wins.
///
/// ```
/// let db = ocipick_host::PciIds::parse(
///     b"# comment\n10de  NVIDIA Corporation\n\t2335  GH100 [H200 SXM 141GB]\n\t\t10de 18be  H200 SXM\nC 03  Display controller\n\t02  3D controller\n",
/// );
/// assert_eq!(db.vendor("10de"), Some("NVIDIA Corporation"));
/// assert_eq!(db.device("10de", "2335"), Some("GH100 [H200 SXM 141GB]"));
/// assert_eq!(db.subsystem("10de", "2335", "10de", "18be"), Some("H200 SXM"));
/// assert_eq!(db.device("10de", "0002"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PciIds {
    vendors: BTreeMap<u16, Vendor>,
}

/// Four hexadecimal digits.
fn id(s: &[u8]) -> Option<u16> {
    if s.len() != 4 || !s.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok()
}

/// `ID  Name` (one or more spaces or tabs between them, as the format
/// has two spaces): the ID bytes and the name, which must be non-empty
/// printable UTF-8.
fn entry(line: &[u8]) -> Option<(&[u8], String)> {
    let sep = line.windows(2).position(|w| w == b"  ")?;
    let (key, rest) = line.split_at(sep);
    let name = std::str::from_utf8(rest).ok()?.trim();
    if name.is_empty() || name.chars().any(char::is_control) {
        return None;
    }
    Some((key, name.to_owned()))
}

/// An ID as facts write it (`10de`, or `0x10de`).
fn vendor_id(s: &str) -> Option<u16> {
    id(s.trim().trim_start_matches("0x").as_bytes())
}

impl PciIds {
    /// Parses the text of a database. Never fails: what does not read as
    /// an entry is skipped (see the type's description). Only the first
    /// [`MAX_PCI_IDS_BYTES`] are looked at.
    pub fn parse(text: &[u8]) -> PciIds {
        let text = &text[..text.len().min(MAX_PCI_IDS_BYTES as usize)];
        let mut db = PciIds::default();
        // The vendor and device that indented lines belong to, if any.
        let mut vendor: Option<u16> = None;
        let mut device: Option<u16> = None;
        for line in text.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            let depth = line.iter().take_while(|&&b| b == b'\t').count();
            let body = &line[depth..];
            let parsed = (line.len() <= MAX_PCI_IDS_LINE)
                .then(|| entry(body))
                .flatten();
            match depth {
                0 => {
                    device = None;
                    vendor = parsed.and_then(|(key, name)| {
                        let v = id(key)?;
                        db.vendors.entry(v).or_insert_with(|| Vendor {
                            name,
                            devices: BTreeMap::new(),
                        });
                        Some(v)
                    });
                }
                1 => {
                    device = vendor.zip(parsed).and_then(|(v, (key, name))| {
                        let d = id(key)?;
                        let vendor = db.vendors.get_mut(&v)?;
                        vendor.devices.entry(d).or_insert_with(|| Device {
                            name,
                            subsystems: BTreeMap::new(),
                        });
                        Some(d)
                    });
                }
                2 => {
                    let (Some(v), Some(d), Some((key, name))) = (vendor, device, parsed) else {
                        continue;
                    };
                    let mut ids = key.split(|&b| b == b' ');
                    let (Some(sv), Some(sd), None) =
                        (ids.next().and_then(id), ids.next().and_then(id), ids.next())
                    else {
                        continue;
                    };
                    if let Some(dev) = db.vendors.get_mut(&v).and_then(|x| x.devices.get_mut(&d)) {
                        dev.subsystems.entry((sv, sd)).or_insert(name);
                    }
                }
                _ => {}
            }
        }
        db
    }

    /// Reads the database of the machine whose files are under `root`:
    /// the first of [`PCI_IDS_PATHS`] that is a regular file no larger
    /// than [`MAX_PCI_IDS_BYTES`]. `None` when there is none (names are
    /// then simply not shown).
    pub fn load(root: &Path) -> Option<PciIds> {
        PCI_IDS_PATHS.iter().find_map(|rel| {
            let path = root.join(rel);
            let meta = std::fs::metadata(&path).ok()?;
            if !meta.is_file() || meta.len() > MAX_PCI_IDS_BYTES {
                return None;
            }
            let mut bytes = Vec::with_capacity(meta.len() as usize);
            std::fs::File::open(&path)
                .ok()?
                // Bounded while reading too: the file may grow meanwhile.
                .take(MAX_PCI_IDS_BYTES + 1)
                .read_to_end(&mut bytes)
                .ok()?;
            if bytes.len() as u64 > MAX_PCI_IDS_BYTES {
                return None;
            }
            Some(PciIds::parse(&bytes))
        })
    }

    /// How many vendors the database names.
    pub fn vendors(&self) -> usize {
        self.vendors.len()
    }

    /// The vendor's name; IDs are four hex digits, as in facts (`10de`).
    pub fn vendor(&self, vendor: &str) -> Option<&str> {
        Some(&self.vendors.get(&vendor_id(vendor)?)?.name)
    }

    /// The device's name.
    pub fn device(&self, vendor: &str, device: &str) -> Option<&str> {
        let v = self.vendors.get(&vendor_id(vendor)?)?;
        Some(&v.devices.get(&vendor_id(device)?)?.name)
    }

    /// The name of a device's subsystem (subvendor and subdevice IDs).
    pub fn subsystem(
        &self,
        vendor: &str,
        device: &str,
        subvendor: &str,
        subdevice: &str,
    ) -> Option<&str> {
        let v = self.vendors.get(&vendor_id(vendor)?)?;
        let d = v.devices.get(&vendor_id(device)?)?;
        let key = (vendor_id(subvendor)?, vendor_id(subdevice)?);
        d.subsystems.get(&key).map(String::as_str)
    }

    /// The names of a `pci.device` instance (its `vendor`, `device`,
    /// `subsystem_vendor` and `subsystem_device` attributes), those the
    /// database knows: `vendor`, `device`, `subsystem`.
    pub fn names(&self, device: &BTreeMap<String, String>) -> BTreeMap<&'static str, String> {
        let get = |k: &str| device.get(k).map(String::as_str).unwrap_or_default();
        let mut out = BTreeMap::new();
        if let Some(n) = self.vendor(get("vendor")) {
            out.insert("vendor", n.to_owned());
        }
        if let Some(n) = self.device(get("vendor"), get("device")) {
            out.insert("device", n.to_owned());
        }
        let sub = self.subsystem(
            get("vendor"),
            get("device"),
            get("subsystem_vendor"),
            get("subsystem_device"),
        );
        if let Some(n) = sub {
            out.insert("subsystem", n.to_owned());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> PciIds {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/hosts/pci.ids");
        PciIds::parse(&std::fs::read(path).unwrap())
    }

    /// The fixture's vendors, devices and subsystems, and what it must not
    /// yield: class lines as vendors or devices, entries under skipped
    /// lines, the later of two entries with one ID.
    #[test]
    fn fixture_names() {
        let db = fixture();
        assert_eq!(db.vendor("10de"), Some("NVIDIA Corporation"));
        assert_eq!(db.vendor("0x10DE"), Some("NVIDIA Corporation"));
        assert_eq!(db.device("10de", "2335"), Some("GH100 [H200 SXM 141GB]"));
        assert_eq!(
            db.subsystem("10de", "2335", "10de", "18be"),
            Some("H200 SXM 141GB")
        );
        assert_eq!(db.vendor("1af4"), Some("Red Hat, Inc."));
        assert_eq!(db.device("1af4", "1041"), Some("Virtio 1.0 network device"));
        assert_eq!(db.vendor("8086"), Some("Intel Corporation"));
        // The first of two entries for one device wins.
        assert_eq!(
            db.device("8086", "1237"),
            Some("440FX - 82441FX PMC [Natoma]")
        );
        // CRLF line ends are read.
        assert_eq!(db.vendor("1234"), Some("Technical Corp."));
        // The class section: `C 03` is no vendor, and its indented lines
        // are not devices of the vendor before it (ffff).
        assert_eq!(db.vendor("0003"), None);
        assert_eq!(db.device("ffff", "0302"), None);
        assert_eq!(db.vendor("ffff"), Some("Illegal Vendor ID"));
        // A vendor line too long to read takes its devices with it.
        assert_eq!(db.vendor("dead"), None);
        assert_eq!(db.device("8086", "beef"), None, "not the vendor before");
        // A malformed vendor line: its devices belong to nobody.
        assert_eq!(db.device("1af4", "abcd"), None);
        // Past the class section, a vendor again.
        assert_eq!(db.vendor("f00d"), Some("After the classes"));
        assert_eq!(db.vendors(), 6);
    }

    #[test]
    fn names_of_a_device() {
        let db = fixture();
        let dev: BTreeMap<String, String> = [
            ("vendor", "10de"),
            ("device", "2335"),
            ("class", "0302"),
            ("subsystem_vendor", "10de"),
            ("subsystem_device", "18be"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let n = db.names(&dev);
        assert_eq!(n["vendor"], "NVIDIA Corporation");
        assert_eq!(n["device"], "GH100 [H200 SXM 141GB]");
        assert_eq!(n["subsystem"], "H200 SXM 141GB");
        let mut unknown = dev.clone();
        unknown.insert("device".into(), "9999".into());
        let n = db.names(&unknown);
        assert_eq!(n.len(), 1, "{n:?}");
        assert!(PciIds::default().names(&dev).is_empty());
    }

    #[test]
    fn bounds() {
        let long = format!("10de  {}\n", "N".repeat(MAX_PCI_IDS_LINE));
        assert_eq!(PciIds::parse(long.as_bytes()).vendors(), 0);
        let fits = format!("10de  {}\n", "N".repeat(MAX_PCI_IDS_LINE - 6));
        assert_eq!(PciIds::parse(fits.as_bytes()).vendors(), 1);
        // Only the first MAX_PCI_IDS_BYTES are looked at.
        let mut big = vec![b'#'; MAX_PCI_IDS_BYTES as usize];
        big.extend_from_slice(b"\n10de  NVIDIA Corporation\n");
        assert_eq!(PciIds::parse(&big).vendors(), 0);
        for odd in [
            &b""[..],
            b"\t\t\t",
            b"10de",
            b"10de  ",
            b"\t2335  x",
            b"zzzz  x",
            b"10de  a\x07b",
        ] {
            assert_eq!(PciIds::parse(odd).vendors(), 0, "{odd:?}");
        }
    }

    /// The system's database, where one is installed (Debian's `pci.ids`
    /// package, hwdata): it parses whole, with thousands of vendors.
    #[test]
    fn system_database_if_installed() {
        let Some(db) = PciIds::load(Path::new("/")) else {
            // scripts/test.sh installs Debian's pci.ids and sets this.
            assert!(
                std::env::var_os("OCIPICK_REQUIRE_PCI_IDS").is_none(),
                "no PCI ID database installed, and OCIPICK_REQUIRE_PCI_IDS is set"
            );
            eprintln!("no PCI ID database installed: skipped");
            return;
        };
        assert!(db.vendors() > 1000, "{} vendors", db.vendors());
        assert_eq!(db.vendor("10de"), Some("NVIDIA Corporation"));
        assert_eq!(db.vendor("8086"), Some("Intel Corporation"));
        assert!(db
            .device("10de", "2330")
            .is_some_and(|n| n.contains("GH100")));
    }

    /// No database under the root: no names, no error; a database too
    /// large is not read.
    #[test]
    fn load_from_a_root() {
        let dir = std::env::temp_dir().join(format!("ocipick-pci-ids-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("usr/share/hwdata")).unwrap();
        assert_eq!(PciIds::load(&dir), None);
        std::fs::write(
            dir.join("usr/share/hwdata/pci.ids"),
            b"10de  NVIDIA Corporation\n",
        )
        .unwrap();
        assert_eq!(
            PciIds::load(&dir).unwrap().vendor("10de"),
            Some("NVIDIA Corporation")
        );
        // misc/ comes first.
        std::fs::create_dir_all(dir.join("usr/share/misc")).unwrap();
        std::fs::write(dir.join("usr/share/misc/pci.ids"), b"10de  From misc\n").unwrap();
        assert_eq!(
            PciIds::load(&dir).unwrap().vendor("10de"),
            Some("From misc")
        );
        // Too large: skipped, and the next one is used.
        let f = std::fs::File::create(dir.join("usr/share/misc/pci.ids")).unwrap();
        f.set_len(MAX_PCI_IDS_BYTES + 1).unwrap();
        assert_eq!(
            PciIds::load(&dir).unwrap().vendor("10de"),
            Some("NVIDIA Corporation")
        );
        // A directory where the file should be: skipped.
        std::fs::remove_file(dir.join("usr/share/hwdata/pci.ids")).unwrap();
        std::fs::create_dir_all(dir.join("usr/share/hwdata/pci.ids")).unwrap();
        assert_eq!(PciIds::load(&dir), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
