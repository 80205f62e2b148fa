//! Points and velocities on the plane, in metres and metres per second.

use serde::{Deserialize, Serialize};

/// `[x, y]` in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Point(pub f64, pub f64);

impl Point {
    pub fn plus(self, o: Point) -> Point {
        Point(self.0 + o.0, self.1 + o.1)
    }

    pub fn minus(self, o: Point) -> Point {
        Point(self.0 - o.0, self.1 - o.1)
    }

    pub fn times(self, k: f64) -> Point {
        Point(self.0 * k, self.1 * k)
    }

    pub fn dot(self, o: Point) -> f64 {
        self.0 * o.0 + self.1 * o.1
    }

    pub fn norm(self) -> f64 {
        self.dot(self).sqrt()
    }

    pub fn distance(self, o: Point) -> f64 {
        self.minus(o).norm()
    }

    /// This vector cut to length `max` at most.
    pub fn clamped(self, max: f64) -> Point {
        let n = self.norm();
        if n > max && n > 0.0 {
            self.times(max / n)
        } else {
            self
        }
    }

    /// Turned a quarter to the right (clockwise, `y` up).
    pub fn right(self) -> Point {
        Point(self.1, -self.0)
    }

    pub fn is_finite(self) -> bool {
        self.0.is_finite() && self.1.is_finite()
    }
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({:.1}, {:.1})", self.0, self.1)
    }
}

/// An axis-aligned rectangle: the airspace, or an area to survey.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Area {
    pub min: Point,
    pub max: Point,
}

impl Area {
    pub fn contains(&self, p: Point) -> bool {
        (self.min.0..=self.max.0).contains(&p.0) && (self.min.1..=self.max.1).contains(&p.1)
    }

    pub fn width(&self) -> f64 {
        self.max.0 - self.min.0
    }

    pub fn height(&self) -> f64 {
        self.max.1 - self.min.1
    }
}
