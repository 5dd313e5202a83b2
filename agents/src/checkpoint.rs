//! Checkpoints: safetensors files holding a team's policy and value networks,
//! with what made them (team, shapes, the experiment's config) as metadata.

use crate::learner::{Learner, CLASSES};
use crate::mlp::{Frozen, NamedArray};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

/// What a checkpoint says about itself.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Meta {
    /// `honest` or `byzantine`.
    pub team: String,
    pub obs_dim: usize,
    pub heads: usize,
    pub hidden: Vec<usize>,
    /// Rounds of the game it was trained in.
    pub rounds: u8,
    /// Training episodes behind it.
    pub episodes: u64,
    /// The experiment that made it, as TOML.
    pub config: String,
}

/// Writes `learner`'s networks and `meta` to `path` (temp file + rename).
pub fn save(path: &Path, learner: &Learner, meta: &Meta) -> Result<(), String> {
    let mut named = learner.policy.named("policy");
    named.extend(learner.critic.named("critic"));
    let json = serde_json::to_string(meta).map_err(|e| e.to_string())?;
    write_tensors(path, &named, &json)
}

/// Named f32 arrays and one JSON document as metadata, written atomically.
/// One metadata key, so no map order reaches the file.
pub fn write_tensors(
    path: &Path,
    named: &[(String, NamedArray)],
    json: &str,
) -> Result<(), String> {
    let raw: Vec<Vec<u8>> = named
        .iter()
        .map(|(_, (_, data))| data.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: Vec<(String, TensorView)> = named
        .iter()
        .zip(&raw)
        .map(|((n, (shape, _)), raw)| {
            Ok((n.clone(), TensorView::new(Dtype::F32, shape.clone(), raw)?))
        })
        .collect::<Result<_, safetensors::SafeTensorError>>()
        .map_err(|e| e.to_string())?;
    let info = HashMap::from([("selfplay".to_string(), json.to_string())]);
    let out = safetensors::serialize(views, Some(info)).map_err(|e| e.to_string())?;
    write_atomic(path, &out).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes `bytes` to `path` through a temporary file of this process's own
/// in the same folder, synced, then renamed into place: a process killed at
/// any moment leaves the previous complete file, and two processes writing
/// one path never take each other's temporary file. Every file selfplay
/// writes goes through here.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!(
        "{}.{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or(""),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Reads what [`write_tensors`] wrote: the JSON metadata and the tensors.
pub fn read_tensors(path: &Path) -> Result<(String, Tensors), String> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("{shown}: cannot read checkpoint: {e}"))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| format!("{shown}: not a safetensors checkpoint: {e}"))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| format!("{shown}: {e}"))?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("selfplay"))
        .ok_or_else(|| format!("{shown}: not a selfplay checkpoint (no metadata)"))?
        .clone();
    let mut tensors = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(format!("{shown}: tensor {name} is not f32"));
        }
        let data = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        tensors.insert(name, (view.shape().to_vec(), data));
    }
    Ok((json, tensors))
}

/// Tensors by name: shape and values.
pub type Tensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

fn tensor(tensors: &Tensors, name: &str) -> Option<(Vec<usize>, Vec<f32>)> {
    tensors.get(name).cloned()
}

/// Everything a learner needs to go on exactly where it stopped: networks
/// and the optimiser's moments (its step count travels in the metadata).
pub fn learner_state(learner: &Learner, prefix: &str) -> Vec<(String, NamedArray)> {
    let mut out = learner.policy.named(&format!("{prefix}.policy"));
    out.extend(learner.critic.named(&format!("{prefix}.critic")));
    for (k, (m, v)) in learner.opt.m.iter().zip(&learner.opt.v).enumerate() {
        for (name, values) in [("m", m), ("v", v)] {
            out.push((
                format!("{prefix}.adam.{name}.{k}"),
                (vec![values.len()], values.clone()),
            ));
        }
    }
    out
}

/// Restores what [`learner_state`] saved, and the optimiser's step count `t`.
pub fn restore_learner(
    learner: &mut Learner,
    prefix: &str,
    tensors: &Tensors,
    t: u64,
) -> Result<(), String> {
    let get = |name: &str| tensor(tensors, name);
    learner.policy.load(&format!("{prefix}.policy"), &get)?;
    learner.critic.load(&format!("{prefix}.critic"), &get)?;
    for k in 0..learner.opt.m.len() {
        for (name, slot) in [("m", &mut learner.opt.m[k]), ("v", &mut learner.opt.v[k])] {
            let key = format!("{prefix}.adam.{name}.{k}");
            let (_, values) = tensors.get(&key).ok_or_else(|| format!("no {key}"))?;
            if values.len() != slot.len() {
                return Err(format!("{key}: shapes do not match the config"));
            }
            slot.copy_from_slice(values);
        }
    }
    learner.opt.t = t;
    Ok(())
}

/// A checkpoint read back.
pub struct Loaded {
    pub meta: Meta,
    pub tensors: Tensors,
}

/// Reads a checkpoint; a missing, truncated or foreign file is an error that
/// says so, and so is one whose networks are not the shapes its metadata
/// names (a damaged file: a network read with the wrong shapes would index
/// past its weights).
pub fn load(path: &Path) -> Result<Loaded, String> {
    let (json, tensors) = read_tensors(path)?;
    let meta: Meta = serde_json::from_str(&json)
        .map_err(|e| format!("{}: bad metadata: {e}", path.display()))?;
    let loaded = Loaded { meta, tensors };
    loaded
        .check_shapes()
        .map_err(|e| format!("{}: a damaged checkpoint: {e}", path.display()))?;
    Ok(loaded)
}

impl Loaded {
    /// Whether the policy and value networks are the shapes the metadata
    /// names: `obs_dim`, the hidden layers, then `heads` times the classes
    /// (policy) or one value (critic), as `Learner::new` builds them.
    fn check_shapes(&self) -> Result<(), String> {
        let m = &self.meta;
        let mut inner = vec![m.obs_dim];
        inner.extend(&m.hidden);
        for (name, out) in [("policy", m.heads * CLASSES), ("critic", 1)] {
            let net = self.layers(name)?;
            let mut want = inner.clone();
            want.push(out);
            if net.sizes != want {
                return Err(format!(
                    "its {name} network has layer sizes {:?}, its metadata says {want:?} \
                     (obs_dim {}, hidden {:?}, heads {})",
                    net.sizes, m.obs_dim, m.hidden, m.heads
                ));
            }
        }
        Ok(())
    }

    fn layers(&self, prefix: &str) -> Result<Frozen, String> {
        let mut layers = vec![];
        let mut sizes = vec![];
        for k in 0.. {
            let (Some((ws, w)), Some((_, b))) = (
                self.tensors.get(&format!("{prefix}.{k}.w")),
                self.tensors.get(&format!("{prefix}.{k}.b")),
            ) else {
                break;
            };
            if ws.len() != 2 || (k > 0 && sizes.last() != Some(&ws[0])) || b.len() != ws[1] {
                return Err(format!("{prefix}.{k}: inconsistent shapes {ws:?}"));
            }
            if k == 0 {
                sizes.push(ws[0]);
            }
            sizes.push(ws[1]);
            layers.push((w.clone(), b.clone()));
        }
        if layers.is_empty() {
            return Err(format!("no {prefix} network in checkpoint"));
        }
        Ok(Frozen { sizes, layers })
    }

    /// The policy network as plain arrays.
    pub fn policy(&self) -> Result<Frozen, String> {
        self.layers("policy")
    }

    /// The value network as plain arrays.
    pub fn critic(&self) -> Result<Frozen, String> {
        self.layers("critic")
    }

    /// Copies the weights into a learner of the same shapes (to go on training).
    pub fn into_learner(&self, learner: &mut Learner) -> Result<(), String> {
        let get = |name: &str| tensor(&self.tensors, name);
        learner.policy.load("policy", &get)?;
        learner.critic.load("critic", &get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learner::LearnConfig;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn round_trip_and_clear_errors() {
        let dir = std::env::temp_dir().join(format!("selfplay-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let l = Learner::new(5, 2, &LearnConfig::default(), &mut rng).unwrap();
        let meta = Meta {
            team: "byzantine".into(),
            obs_dim: 5,
            heads: 2,
            hidden: vec![64, 64],
            rounds: 3,
            episodes: 10,
            config: "seed = 1\n".into(),
        };
        let path = dir.join("t.safetensors");
        save(&path, &l, &meta).unwrap();
        let first = std::fs::read(&path).unwrap();
        save(&path, &l, &meta).unwrap();
        assert_eq!(first, std::fs::read(&path).unwrap(), "byte-identical");
        let back = load(&path).unwrap();
        assert_eq!(back.meta, meta);
        assert_eq!(
            back.policy().unwrap().layers,
            l.policy.frozen().unwrap().layers
        );
        let mut other = Learner::new(5, 2, &LearnConfig::default(), &mut rng).unwrap();
        back.into_learner(&mut other).unwrap();
        assert_eq!(
            other.critic.frozen().unwrap().layers,
            l.critic.frozen().unwrap().layers
        );
        // Metadata that names other shapes than the tensors': damaged.
        for (field, value) in [("obs_dim", 4), ("heads", 3)] {
            let mut other = meta.clone();
            match field {
                "obs_dim" => other.obs_dim = value,
                _ => other.heads = value,
            }
            save(&path, &l, &other).unwrap();
            let e = load(&path).err().unwrap();
            assert!(
                e.contains("damaged checkpoint") && e.contains(&path.display().to_string()),
                "{field}: {e}"
            );
        }
        let mut other = meta.clone();
        other.hidden = vec![64];
        save(&path, &l, &other).unwrap();
        assert!(load(&path).err().unwrap().contains("damaged checkpoint"));
        let mut wrong = Learner::new(6, 2, &LearnConfig::default(), &mut rng).unwrap();
        assert!(back.into_learner(&mut wrong).unwrap_err().contains("shape"));
        std::fs::write(&path, b"garbage").unwrap();
        assert!(load(&path)
            .err()
            .unwrap()
            .contains("not a safetensors checkpoint"));
        assert!(load(&dir.join("none"))
            .err()
            .unwrap()
            .contains("cannot read"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
