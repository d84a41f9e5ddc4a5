//! Matching names as a vendor wrote them ("Acme Bolt Co", "hex bolt m8x30") to master records
//! in three stages: exact, then ignoring case and punctuation, then fuzzy (Jaro-Winkler) above
//! [`MATCH_THRESHOLD`]. A [`Ranking`] keeps only the best few candidates, so master data can be
//! scored page by page without holding it all.

use serde::Serialize;
use utoipa::ToSchema;

/// A fuzzy score at or above this matches; below it a candidate is only an alternative.
pub const MATCH_THRESHOLD: f64 = 0.9;
/// Candidates scoring below this are not worth showing as alternatives.
pub const ALTERNATIVE_FLOOR: f64 = 0.6;
/// How many alternatives a preview shows besides the match.
pub const MAX_ALTERNATIVES: usize = 3;
/// Two candidates of one stage closer than this are too close to tell apart by score.
const AMBIGUITY_MARGIN: f64 = 0.02;

/// Which stage matched, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchStage {
    /// The caller named the record by id.
    Chosen,
    /// The same text.
    Exact,
    /// The same letters and digits, ignoring case, spacing and punctuation.
    Normalized,
    /// Similar enough (Jaro-Winkler at or above the threshold).
    Fuzzy,
}

/// How well an input names one candidate: the stage that matched (none below the threshold)
/// and a score from 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub stage: Option<MatchStage>,
    pub score: f64,
}

impl Similarity {
    /// Stronger stages first, then higher scores.
    fn beats(&self, other: &Self) -> bool {
        // No stage ranks after every stage.
        let rank = |s: &Self| s.stage.map_or(u8::MAX, |stage| stage as u8);
        match rank(self).cmp(&rank(other)) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Equal => self.score > other.score,
        }
    }
}

/// Lower-case words of letters and digits, one space apart: "ACME Bolts Co." → "acme bolts co".
pub fn words(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// An input prepared once for comparing with many candidates.
#[derive(Debug, Clone)]
pub struct Query {
    raw: String,
    words: String,
    compact: String,
}

impl Query {
    pub fn new(raw: &str) -> Self {
        let words = words(raw);
        Self {
            raw: raw.trim().to_owned(),
            compact: words.replace(' ', ""),
            words,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.compact.is_empty()
    }

    /// The best similarity of this input to any of a candidate's keys (e.g. SKU and name).
    pub fn against(&self, keys: &[&str]) -> Similarity {
        let mut best = Similarity {
            stage: None,
            score: 0.0,
        };
        for key in keys {
            let candidate = self.against_one(key);
            if candidate.beats(&best) {
                best = candidate;
            }
        }
        best
    }

    fn against_one(&self, key: &str) -> Similarity {
        if self.is_empty() {
            return Similarity {
                stage: None,
                score: 0.0,
            };
        }
        if key.trim() == self.raw {
            return Similarity {
                stage: Some(MatchStage::Exact),
                score: 1.0,
            };
        }
        let key_words = words(key);
        if key_words.replace(' ', "") == self.compact {
            return Similarity {
                stage: Some(MatchStage::Normalized),
                score: 1.0,
            };
        }
        let score = strsim::jaro_winkler(&self.words, &key_words);
        Similarity {
            stage: (score >= MATCH_THRESHOLD).then_some(MatchStage::Fuzzy),
            score,
        }
    }
}

/// One candidate with its similarity to the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored<T> {
    pub item: T,
    pub similarity: Similarity,
}

/// The best few candidates seen so far for one input, strongest first.
#[derive(Debug, Clone)]
pub struct Ranking<T> {
    top: Vec<Scored<T>>,
}

impl<T> Default for Ranking<T> {
    fn default() -> Self {
        Self { top: Vec::new() }
    }
}

impl<T> Ranking<T> {
    /// Considers one candidate; it is kept (and `item` made) only if it matches or is a
    /// plausible alternative, and is among the best `1 + MAX_ALTERNATIVES`.
    pub fn offer(&mut self, similarity: Similarity, item: impl FnOnce() -> T) {
        if similarity.stage.is_none() && similarity.score < ALTERNATIVE_FLOOR {
            return;
        }
        let at = self
            .top
            .iter()
            .position(|kept| similarity.beats(&kept.similarity))
            .unwrap_or(self.top.len());
        if at > MAX_ALTERNATIVES {
            return;
        }
        self.top.insert(
            at,
            Scored {
                item: item(),
                similarity,
            },
        );
        self.top.truncate(1 + MAX_ALTERNATIVES);
    }

    /// The match (the best candidate, if any stage matched) and the alternatives after it.
    pub fn finish(mut self) -> Outcome<T> {
        let matched = self
            .top
            .first()
            .is_some_and(|best| best.similarity.stage.is_some());
        if !matched {
            self.top.truncate(MAX_ALTERNATIVES);
            return Outcome {
                best: None,
                ambiguous: false,
                alternatives: self.top,
            };
        }
        let mut rest = self.top.split_off(1);
        let best = self.top.pop();
        let ambiguous = match (&best, rest.first()) {
            (Some(best), Some(next)) => {
                best.similarity.stage == next.similarity.stage
                    && best.similarity.score - next.similarity.score < AMBIGUITY_MARGIN
            }
            _ => false,
        };
        rest.truncate(MAX_ALTERNATIVES);
        Outcome {
            best,
            ambiguous,
            alternatives: rest,
        }
    }
}

/// The result of matching one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome<T> {
    pub best: Option<Scored<T>>,
    /// The runner-up is as good as the match: a person should look.
    pub ambiguous: bool,
    pub alternatives: Vec<Scored<T>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rank<'a>(input: &str, candidates: &[(&'a str, &[&str])]) -> Outcome<&'a str> {
        let query = Query::new(input);
        let mut ranking = Ranking::default();
        for (id, keys) in candidates {
            ranking.offer(query.against(keys), || *id);
        }
        ranking.finish()
    }

    #[test]
    fn the_stages_are_exact_then_normalized_then_fuzzy() {
        let query = Query::new("ACME Bolts Co.");
        assert_eq!(
            query.against(&["ACME Bolts Co."]).stage,
            Some(MatchStage::Exact)
        );
        assert_eq!(
            query.against(&["acme bolts co"]).stage,
            Some(MatchStage::Normalized)
        );
        let fuzzy = Query::new("Acme Bolt Co").against(&["ACME Bolts Co."]);
        assert_eq!(fuzzy.stage, Some(MatchStage::Fuzzy));
        assert!(fuzzy.score >= MATCH_THRESHOLD && fuzzy.score < 1.0);
        let unrelated = Query::new("Northwind Traders").against(&["ACME Bolts Co."]);
        assert_eq!(unrelated.stage, None);
    }

    #[test]
    fn punctuation_and_spacing_do_not_matter_for_codes() {
        let query = Query::new("hb m8x30");
        assert_eq!(
            query.against(&["HB-M8X30", "Hex bolt"]).stage,
            Some(MatchStage::Normalized)
        );
    }

    #[test]
    fn the_best_candidate_wins_and_the_others_are_alternatives() {
        let outcome = rank(
            "hex bolt m8x30",
            &[
                ("washer", &["W-M8", "Washer M8"]),
                ("bolt40", &["HB-M8X40", "Hex Bolt M8x40"]),
                ("bolt30", &["HB-M8X30", "Hex Bolt M8 x 30"]),
                ("nut", &["N-M8", "Hex nut M8"]),
            ],
        );
        let best = outcome.best.expect("a match");
        assert_eq!(best.item, "bolt30");
        assert_eq!(best.similarity.stage, Some(MatchStage::Normalized));
        assert_eq!(outcome.alternatives[0].item, "bolt40");
        assert!(!outcome.ambiguous);
        assert!(outcome.alternatives.len() <= MAX_ALTERNATIVES);
    }

    #[test]
    fn nothing_above_the_threshold_leaves_only_alternatives() {
        let outcome = rank("flange gasket", &[("bolt", &["HB-M8X30", "Hex Bolt"])]);
        assert!(outcome.best.is_none());
    }

    #[test]
    fn two_equally_good_fuzzy_candidates_are_ambiguous() {
        let outcome = rank(
            "steel plate 10mm",
            &[
                ("a", &["Steel plate 10mm A"]),
                ("b", &["Steel plate 10mm B"]),
            ],
        );
        assert!(outcome.best.is_some());
        assert!(outcome.ambiguous);
    }

    proptest! {
        #[test]
        fn a_ranking_keeps_at_most_the_match_and_its_alternatives(scores in proptest::collection::vec(0.0f64..=1.0, 0..40)) {
            let mut ranking = Ranking::default();
            for (i, score) in scores.iter().enumerate() {
                let stage = (*score >= MATCH_THRESHOLD).then_some(MatchStage::Fuzzy);
                ranking.offer(Similarity { stage, score: *score }, || i);
            }
            let outcome = ranking.finish();
            prop_assert!(outcome.alternatives.len() <= MAX_ALTERNATIVES);
            let best = scores.iter().cloned().fold(0.0, f64::max);
            match outcome.best {
                Some(kept) => prop_assert_eq!(kept.similarity.score, best),
                None => prop_assert!(best < MATCH_THRESHOLD),
            }
        }

        #[test]
        fn case_and_punctuation_never_change_the_normalized_stage(word in "[a-z0-9]{1,12}") {
            let shouted = format!("  {}. ", word.to_uppercase());
            prop_assert!(matches!(
                Query::new(&shouted).against(&[&word]).stage,
                Some(MatchStage::Exact | MatchStage::Normalized)
            ));
        }
    }
}
