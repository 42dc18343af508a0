//! A share of a job's pages, for running one job as several processes (Cloud Run Jobs tasks):
//! task `index` of `count` takes page i when i % count == index. With the same base seed, the
//! tasks together fetch every page exactly once, and each page is the same data whichever
//! task fetches it.

/// Which pages of a plan this process takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Every page: a job run by one process.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// `index` of `count`; the error says which is wrong.
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 {
            return Err("the task count must be at least 1".into());
        }
        if index >= count {
            return Err(format!("task index {index} is out of range for {count} tasks (0 to {})", count - 1));
        }
        Ok(Shard { index, count })
    }

    /// This shard's page numbers among `pages`, in order.
    pub fn pages(self, pages: u32) -> impl Iterator<Item = u32> {
        (self.index..pages).step_by(self.count as usize)
    }

    /// How many of `pages` this shard takes.
    pub fn len(self, pages: u32) -> u32 {
        pages.saturating_sub(self.index).div_ceil(self.count)
    }

    pub fn is_whole(self) -> bool {
        self.count == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_pages() {
        for pages in [0, 1, 2, 7, 25] {
            for count in 1..=5 {
                let mut all: Vec<u32> = (0..count).flat_map(|i| Shard::new(i, count).unwrap().pages(pages)).collect();
                for i in 0..count {
                    let shard = Shard::new(i, count).unwrap();
                    assert_eq!(shard.len(pages) as usize, shard.pages(pages).count(), "{i}/{count} of {pages}");
                }
                all.sort();
                assert_eq!(all, (0..pages).collect::<Vec<_>>(), "{count} shards of {pages}");
            }
        }
        assert_eq!(Shard::new(1, 3).unwrap().pages(8).collect::<Vec<_>>(), [1, 4, 7]);
        assert!(Shard::new(3, 3).is_err());
        assert!(Shard::new(0, 0).is_err());
    }
}
