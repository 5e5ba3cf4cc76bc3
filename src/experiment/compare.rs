//! Comparisons a sweep file declares (`[[compare]]`: a treatment against its baseline, as the
//! report compares each trick with the model without it), evaluated over the seeds of each side:
//! difference of means, its 95% confidence interval and Welch's t-test p-value.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::train::log::Summary;

/// A number every finished run reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    FinalValAcc,
    FinalValLoss,
    FinalTestAcc,
    FinalTestLoss,
    FinalTrainAcc,
    FinalTrainLoss,
    /// Training minus validation accuracy at the end: how much the model overfits.
    AccGap,
    /// The epoch early stopping fired in (runs that never stopped count as their last epoch + 1).
    StopEpoch,
}

impl Metric {
    pub fn of(self, s: &Summary, epochs: usize) -> Option<f64> {
        match self {
            Metric::FinalValAcc => s.final_val_acc,
            Metric::FinalValLoss => s.final_val_loss,
            Metric::FinalTestAcc => s.final_test_acc,
            Metric::FinalTestLoss => s.final_test_loss,
            Metric::FinalTrainAcc => Some(s.final_train_acc),
            Metric::FinalTrainLoss => Some(s.final_train_loss),
            Metric::AccGap => s.final_val_acc.map(|v| s.final_train_acc - v),
            Metric::StopEpoch => Some(s.stop_epoch.unwrap_or(epochs) as f64),
        }
    }

    pub fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
    }
}

/// `[[compare]]` in a sweep file: `treatment` against `baseline` (run names, before seeds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// What is being tested, e.g. "improved weight init" (default: "treatment vs baseline").
    #[serde(default)]
    pub name: Option<String>,
    pub baseline: String,
    pub treatment: String,
    /// Default: test accuracy and loss when the runs have a test set (`val_from_train`),
    /// validation accuracy and loss otherwise.
    #[serde(default)]
    pub metrics: Vec<Metric>,
}

impl Comparison {
    /// The metrics to show: the declared ones, else accuracy and loss on the test set when every
    /// run has one (`honest`), on the validation set otherwise.
    pub fn metrics(&self, honest: bool) -> Vec<Metric> {
        match (&self.metrics[..], honest) {
            ([], true) => vec![Metric::FinalTestAcc, Metric::FinalTestLoss],
            ([], false) => vec![Metric::FinalValAcc, Metric::FinalValLoss],
            (m, _) => m.to_vec(),
        }
    }

    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("{} vs {}", self.treatment, self.baseline))
    }
}

/// Welch's two-sample t-test of mean(b) - mean(a).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Welch {
    pub diff: f64,
    /// 95% confidence interval of the difference.
    pub ci: (f64, f64),
    /// Two-sided p-value.
    pub p: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
}

/// Mean and sample standard deviation (n - 1; 0 for a single value).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

/// Welch's test of `b` against `a`; None with fewer than two values on a side or no spread at all
/// (the t statistic is undefined).
pub fn welch(a: &[f64], b: &[f64]) -> Option<Welch> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let ((ma, sa), (mb, sb)) = (mean_std(a), mean_std(b));
    let (va, vb) = (sa * sa / a.len() as f64, sb * sb / b.len() as f64);
    let se = (va + vb).sqrt();
    if se == 0.0 || !se.is_finite() {
        return None;
    }
    let df = (va + vb).powi(2) / (va * va / (a.len() as f64 - 1.0) + vb * vb / (b.len() as f64 - 1.0));
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    let diff = mb - ma;
    let half = t.inverse_cdf(0.975) * se;
    Some(Welch { diff, ci: (diff - half, diff + half), p: 2.0 * t.sf((diff / se).abs()), df })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_matches_a_worked_example() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [2.0, 4.0, 6.0, 8.0, 10.0];
        let w = welch(&a, &b).unwrap();
        // Means 3 and 6, sample variances 2.5 and 10: se = sqrt(0.5 + 2), t = 1.89737,
        // df = 2.5^2 / (0.5^2/4 + 2^2/4) = 5.88235. The p-value 0.107531 and the quantile
        // t_0.975(5.88235) = 2.458824 come from integrating the t density numerically (Simpson).
        assert!((w.diff - 3.0).abs() < 1e-12);
        assert!((w.df - 5.882352941).abs() < 1e-6, "{w:?}");
        assert!((w.p - 0.107531).abs() < 1e-5, "{w:?}");
        let half = 2.458824 * 2.5f64.sqrt();
        assert!((w.ci.0 - (3.0 - half)).abs() < 1e-5 && (w.ci.1 - (3.0 + half)).abs() < 1e-5, "{w:?}");
    }

    #[test]
    fn welch_needs_two_values_a_side_and_some_spread() {
        assert!(welch(&[1.0], &[2.0, 3.0]).is_none());
        assert!(welch(&[1.0, 1.0], &[2.0, 2.0]).is_none());
        let same = welch(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!((same.diff, same.p), (0.0, 1.0));
    }
}
