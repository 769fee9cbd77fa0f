//! Resolving what the user names (`dsprites`, `cars3d-official`, a path …) to a dataset,
//! and where official files live: `--data-dir DIR` or `DISENTANGLE_DATA`, with
//! disentanglement_lib's folder convention (`DIR/dsprites/<official npz>`, `DIR/cars/*.mat`).

use std::path::{Path, PathBuf};

use crate::cars3d_official::{CARS3D_DOWNLOAD, Cars3d};
use crate::cars3d_procedural::{DEFAULT_MODELS, generate_cars3d};
use crate::dsprites_official::{DSPRITES_DOWNLOAD, DSPRITES_FILE_NAME, DSpritesOfficial};
use crate::dsprites_procedural::DSpritesProcedural;
use crate::error::{DataError, Result};
use crate::color_dsprites::RandomColor;
use crate::dsprites_variants::DSpritesVariant;
use crate::factors::FactorDataset;
use crate::noisy_dsprites::UniformNoise;
use crate::scream_dsprites::ScreamBackground;
use crate::mpi3d::{MPI3D_DOWNLOAD, Mpi3d, Mpi3dVariant};
use crate::shapes3d_official::{SHAPES3D_DOWNLOAD, SHAPES3D_FILE_NAME, Shapes3d};
use crate::shapes3d_procedural::Shapes3dProcedural;
use crate::smallnorb::{CHUNKS as SMALLNORB_CHUNKS, SMALLNORB_DOWNLOAD, SmallNorb};

/// Environment variable naming the data folder.
pub const DATA_DIR_ENV: &str = "DISENTANGLE_DATA";

/// The data folder: the explicit one, else `$DISENTANGLE_DATA`.
pub fn data_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from))
}

/// Names accepted by [`open_dataset`], for help texts.
pub const DATASET_NAMES: &str = "dsprites (procedural, default), dsprites-official, cars3d (procedural, 183 models), cars3d:N (N procedural models), cars3d-official, \
    color-dsprites, noisy-dsprites, scream-dsprites (procedural; with -official: on the official file), shapes3d (procedural), shapes3d-official, smallnorb, mpi3d-toy, mpi3d-realistic, mpi3d-real, or a path to an official-layout .npz file (dSprites, Shapes3D or MPI3D) or Cars3D folder";

/// Whether `spec` names a registered dataset (procedural or official-by-name) rather than
/// a path: the names [`open_dataset`] matches before it looks at the file system.
fn is_registered_name(spec: &str) -> bool {
    matches!(spec, "dsprites" | "cars3d" | "dsprites-official" | "cars3d-official" | "shapes3d" | "shapes3d-official")
        || spec.starts_with("cars3d:")
        || Mpi3dVariant::from_name(spec).is_some()
        || dsprites_variant(spec).is_some()
        || spec == "smallnorb"
}

/// What a run should store for `spec`: a registered name as it is, a path that exists as its
/// absolute form (so the run still finds its data when it is run from, or copied to,
/// another folder).
pub fn dataset_spec_to_store(spec: &str) -> String {
    if is_registered_name(spec) {
        return spec.to_string();
    }
    match std::fs::canonicalize(spec) {
        Ok(abs) => abs.to_str().map_or_else(|| spec.to_string(), str::to_string),
        Err(_) => spec.to_string(),
    }
}

/// [`open_dataset`] for a dataset a run recorded: a path that no longer resolves as stored
/// (a run trained with a relative path, then moved or copied; data moved) is looked for
/// relative to `base` (the run's folder), then by its file name in the data folder. The
/// error lists where it looked and how to point at the data.
pub fn open_recorded_dataset(spec: &str, base: &Path, data_dir: Option<&Path>) -> Result<Box<dyn FactorDataset>> {
    let path = Path::new(spec);
    if is_registered_name(spec) || path.exists() {
        return open_dataset(spec, data_dir);
    }
    let mut tried = vec![path.to_path_buf()];
    if path.is_relative() {
        tried.push(base.join(path));
    }
    if let (Some(dir), Some(name)) = (data_dir, path.file_name()) {
        tried.push(dir.join(name));
    }
    for candidate in &tried[1..] {
        if candidate.exists() {
            let candidate = candidate.to_str().ok_or_else(|| DataError::InvalidParameter {
                name: "dataset",
                message: format!("{} is not a UTF-8 path", candidate.display()),
            })?;
            return open_dataset(candidate, data_dir);
        }
    }
    Err(DataError::RecordedDatasetMissing {
        spec: spec.to_string(),
        tried: tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        name: path.file_name().map_or_else(|| spec.to_string(), |n| n.to_string_lossy().into_owned()),
    })
}

/// Image channels of a dataset named as [`open_dataset`] takes it, without opening it (which
/// for Cars3D means rendering it): dSprites names and files are grey, everything else RGB.
pub fn dataset_channels(spec: &str) -> usize {
    if spec.starts_with("dsprites") || spec == "smallnorb" {
        return 1;
    }
    let path = Path::new(spec);
    if is_smallnorb_dir(path) {
        return 1;
    }
    if path.is_file() && path.extension().is_some_and(|e| e == "h5" || e == "hdf5") {
        return 3; // Shapes3D, the one HDF5 dataset
    }
    if path.is_file() {
        return match npz_kind(path) {
            Some(NpzKind::DSprites) | None => 1,
            Some(_) => 3,
        };
    }
    3
}

/// Whether `dir` holds the SmallNORB files (else a folder is Cars3D).
fn is_smallnorb_dir(dir: &Path) -> bool {
    dir.join(format!("{}-dat.mat", SMALLNORB_CHUNKS[0])).is_file()
}

/// A dSprites variant's name split into the variant and its base (`dsprites` or `dsprites-official`).
fn dsprites_variant(spec: &str) -> Option<(&str, &'static str)> {
    let (variant, official) = match spec.strip_suffix("-official") {
        Some(v) => (v, true),
        None => (spec, false),
    };
    matches!(variant, "color-dsprites" | "noisy-dsprites" | "scream-dsprites").then_some((variant, if official { "dsprites-official" } else { "dsprites" }))
}

/// Which dataset an official-layout `.npz` holds, told by its array names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NpzKind {
    DSprites,
    Shapes3d,
    Mpi3d,
}

fn npz_kind(path: &Path) -> Option<NpzKind> {
    let names = crate::npy::npz_array_names(path).ok()?;
    let has = |n: &str| names.iter().any(|m| m == n);
    if has("imgs") {
        Some(NpzKind::DSprites)
    } else if has("images") && has("labels") {
        Some(NpzKind::Shapes3d)
    } else if has("images") {
        Some(NpzKind::Mpi3d)
    } else {
        None
    }
}

/// The official file `relative` under the data folder, or the error that says where it should be.
fn official_file(data_dir: Option<&Path>, dataset: &'static str, display: &'static str, relative: &'static str, download: &'static str, procedural: &'static str) -> Result<PathBuf> {
    let dir = data_dir.ok_or(DataError::NoDataDir { dataset, relative, procedural })?;
    let path = dir.join(relative);
    if !path.is_file() {
        return Err(DataError::MissingOfficial { dataset: display, path, download, procedural });
    }
    Ok(path)
}

/// Opens a dataset by name or path. `dsprites` and `cars3d` are the procedural versions
/// (nothing to download); the `-official` names read the official files from the data folder.
pub fn open_dataset(spec: &str, data_dir: Option<&Path>) -> Result<Box<dyn FactorDataset>> {
    match spec {
        "dsprites" => return Ok(Box::new(DSpritesProcedural::new())),
        "cars3d" => return Ok(Box::new(generate_cars3d(DEFAULT_MODELS, 0)?)),
        "dsprites-official" => {
            let dir = data_dir.ok_or(DataError::NoDataDir {
                dataset: "dsprites-official",
                relative: "dsprites/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz",
                procedural: "dsprites",
            })?;
            let path = dir.join("dsprites").join(DSPRITES_FILE_NAME);
            if !path.is_file() {
                return Err(DataError::MissingOfficial {
                    dataset: "dSprites",
                    path,
                    download: DSPRITES_DOWNLOAD,
                    procedural: "--dataset dsprites",
                });
            }
            return Ok(Box::new(DSpritesOfficial::load(&path)?));
        }
        "shapes3d" => return Ok(Box::new(Shapes3dProcedural::new())),
        "shapes3d-official" => {
            // disentanglement_lib's npz, else DeepMind's original file.
            let dir = data_dir.ok_or(DataError::NoDataDir {
                dataset: "shapes3d-official",
                relative: "3dshapes/3dshapes.h5 or 3dshapes/look-at-object-room_floor-hueXwall-hueXobj-hueXobj-sizeXobj-shapeXview-azi.npz",
                procedural: "shapes3d",
            })?;
            let (npz, h5) = (dir.join("3dshapes").join(SHAPES3D_FILE_NAME), dir.join("3dshapes").join("3dshapes.h5"));
            let path = if npz.is_file() {
                npz
            } else if h5.is_file() {
                h5
            } else {
                return Err(DataError::MissingOfficial { dataset: "Shapes3D", path: h5, download: SHAPES3D_DOWNLOAD, procedural: "--dataset shapes3d" });
            };
            return Ok(Box::new(Shapes3d::load(&path)?));
        }
        "cars3d-official" => {
            let dir = data_dir.ok_or(DataError::NoDataDir {
                dataset: "cars3d-official",
                relative: "cars/*.mat (+ list.txt)",
                procedural: "cars3d",
            })?;
            let path = dir.join("cars");
            if !path.is_dir() {
                return Err(DataError::MissingOfficial {
                    dataset: "Cars3D",
                    path,
                    download: CARS3D_DOWNLOAD,
                    procedural: "--dataset cars3d",
                });
            }
            return Ok(Box::new(Cars3d::load_dir(&path)?));
        }
        _ => {}
    }
    if let Some((variant, base)) = dsprites_variant(spec) {
        let base = open_dataset(base, data_dir)?;
        return Ok(match variant {
            "color-dsprites" => Box::new(DSpritesVariant::new(base, RandomColor)?),
            "noisy-dsprites" => Box::new(DSpritesVariant::new(base, UniformNoise)?),
            _ => Box::new(DSpritesVariant::new(base, ScreamBackground::new())?),
        });
    }
    if spec == "smallnorb" {
        let dir = data_dir.ok_or(DataError::NoDataDir { dataset: "smallnorb", relative: "small_norb/smallnorb-*-{training,testing}-{dat,cat,info}.mat", procedural: "dsprites (there is no procedural SmallNORB)" })?;
        let path = dir.join("small_norb");
        if !is_smallnorb_dir(&path) {
            return Err(DataError::MissingOfficial { dataset: "SmallNORB", path, download: SMALLNORB_DOWNLOAD, procedural: "--dataset dsprites (there is no procedural SmallNORB)" });
        }
        return Ok(Box::new(SmallNorb::load_dir(&path)?));
    }
    if let Some(v) = Mpi3dVariant::from_name(spec) {
        let relative = v.relative_path();
        let path = official_file(data_dir, v.name(), v.name(), relative, MPI3D_DOWNLOAD, "--dataset shapes3d (no procedural MPI3D)")?;
        return Ok(Box::new(Mpi3d::load(&path, v.name())?));
    }
    if let Some(n) = spec.strip_prefix("cars3d:") {
        let n: usize = n.parse().map_err(|_| DataError::InvalidParameter {
            name: "dataset",
            message: format!("`{spec}`: expected cars3d:N with N a number of models"),
        })?;
        return Ok(Box::new(generate_cars3d(n, 0)?));
    }
    let path = Path::new(spec);
    if path.is_file() && path.extension().is_some_and(|e| e == "h5" || e == "hdf5") {
        return Ok(Box::new(Shapes3d::load(path)?));
    }
    if path.is_file() && path.extension().is_some_and(|e| e == "npz") {
        return match npz_kind(path) {
            Some(NpzKind::Shapes3d) => Ok(Box::new(Shapes3d::load(path)?)),
            Some(NpzKind::Mpi3d) => {
                let stem = path.file_stem().map(|s| s.to_string_lossy().replace('_', "-")).unwrap_or_default();
                let name = Mpi3dVariant::ALL.into_iter().find(|v| stem.starts_with(v.name())).map_or("mpi3d", Mpi3dVariant::name);
                Ok(Box::new(Mpi3d::load(path, name)?))
            }
            // dSprites, or an archive of none of them: the dSprites loader names what is missing.
            _ => Ok(Box::new(DSpritesOfficial::load(path)?)),
        };
    }
    if path.is_dir() {
        if is_smallnorb_dir(path) {
            return Ok(Box::new(SmallNorb::load_dir(path)?));
        }
        return Ok(Box::new(Cars3d::load_dir(path)?));
    }
    if path.extension().is_some_and(|e| e == "npz") || spec.contains('/') {
        return Err(DataError::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder")));
    }
    Err(DataError::UnknownDataset(spec.into()))
}

