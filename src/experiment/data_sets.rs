//! The data a sweep's runs read: each named data set loaded once and shared by its runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::DatasetName;
use crate::data::Mnist;
use crate::error::DataError;

/// Loaded data sets by name; two names read from one directory share one copy.
pub struct DataSets {
    sets: Vec<(DatasetName, PathBuf, Arc<Mnist>)>,
}

impl DataSets {
    /// Loads each of `names` once, from the directory `dir_of` gives it.
    pub fn load(
        names: impl IntoIterator<Item = DatasetName>,
        dir_of: impl Fn(DatasetName) -> Result<PathBuf, DataError>,
        read: impl Fn(&Path) -> Result<Mnist, DataError>,
    ) -> Result<Self, DataError> {
        let mut sets: Vec<(DatasetName, PathBuf, Arc<Mnist>)> = Vec::new();
        for name in names {
            if sets.iter().any(|(n, ..)| *n == name) {
                continue;
            }
            let dir = dir_of(name)?;
            let data = match sets.iter().find(|(_, d, _)| *d == dir) {
                Some((_, _, data)) => data.clone(),
                None => Arc::new(read(&dir)?),
            };
            sets.push((name, dir, data));
        }
        Ok(Self { sets })
    }

    /// One directory's data for every data set name (`--data-dir`, tests).
    pub fn one(dir: &Path, mnist: Mnist) -> Self {
        let data = Arc::new(mnist);
        use clap::ValueEnum;
        let sets = DatasetName::value_variants().iter().map(|&n| (n, dir.to_path_buf(), data.clone())).collect();
        Self { sets }
    }

    /// The directory and data of `name`; None when it was not loaded.
    pub fn get(&self, name: DatasetName) -> Option<(&Path, &Mnist)> {
        self.sets.iter().find(|(n, ..)| *n == name).map(|(_, dir, data)| (dir.as_path(), data.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn each_directory_is_read_once_and_shared_by_its_names() {
        let mnist_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
        let reads = Cell::new(0);
        let read = |dir: &Path| {
            reads.set(reads.get() + 1);
            Mnist::load(dir)
        };
        let names = [DatasetName::Mnist, DatasetName::FashionMnist, DatasetName::Mnist];
        let sets = DataSets::load(names, |_| Ok(mnist_dir.clone()), read).unwrap();
        assert_eq!(reads.get(), 1);
        let (a, b) = (sets.get(DatasetName::Mnist).unwrap(), sets.get(DatasetName::FashionMnist).unwrap());
        assert!(std::ptr::eq(a.1, b.1));

        let only = DataSets::load([DatasetName::Mnist], |_| Ok(mnist_dir.clone()), read).unwrap();
        assert!(only.get(DatasetName::FashionMnist).is_none());
        let missing = DataSets::load([DatasetName::Mnist], |_| Ok(mnist_dir.join("nope")), read);
        assert!(missing.is_err_and(|e| e.to_string().contains("nope")));
    }
}
