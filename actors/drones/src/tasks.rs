//! The drones' tasks. Both kinds become a [`Flight`], waypoints flown in
//! order:
//!
//! - `survey`: `{"area": {"min": [x, y], "max": [x, y]}, "spacing": 10}`
//!   sweeps the area in strips `spacing` metres apart (split among the
//!   drones, one band of strips each), or `{"waypoints": [[x, y], …]}`;
//! - `deliver`: `{"to": [x, y]}`.

use serde::{Deserialize, Serialize};
use swarmd_messages::task::TaskSpec;

use crate::REACHED_M;
use crate::geometry::{Area, Point};

/// Waypoints of one mission at most.
pub const MAX_WAYPOINTS: usize = 2000;
/// Strips of a survey at least this far apart.
const MIN_SPACING_M: f64 = 1.0;

/// Waypoints to fly in order; `next` is how far the drone has got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flight {
    pub waypoints: Vec<Point>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub next: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Flight {
    /// The waypoint to fly to from `at`, passing those reached; `None`
    /// once all are.
    pub fn next_waypoint(&mut self, at: Point) -> Option<Point> {
        while let Some(w) = self.waypoints.get(self.next) {
            if w.distance(at) > REACHED_M {
                return Some(*w);
            }
            self.next += 1;
        }
        None
    }

    /// The length of the flight from its first waypoint, in metres.
    pub fn length_m(&self) -> f64 {
        self.waypoints.windows(2).map(|w| w[0].distance(w[1])).sum()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Survey {
    area: Option<Area>,
    spacing: Option<f64>,
    waypoints: Option<Vec<Point>>,
}

/// `{"to": …}`, or the waypoints a split made of it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Deliver {
    to: Option<Point>,
    waypoints: Option<Vec<Point>>,
}

/// `spec`'s payload as one flight over `airspace`.
pub fn parse(spec: &TaskSpec, airspace: &Area) -> Result<Flight, String> {
    let flights = split(spec, airspace, 1)?;
    let waypoints = flights.into_iter().flat_map(|f| f.waypoints).collect();
    Ok(Flight { waypoints, next: 0 })
}

/// `spec`'s payload as flights for `workers` drones.
pub fn split(spec: &TaskSpec, airspace: &Area, workers: usize) -> Result<Vec<Flight>, String> {
    let payload = spec.payload.as_str();
    let flights = match spec.kind.as_str() {
        "deliver" => {
            let d: Deliver = serde_json::from_str(payload).map_err(|e| e.to_string())?;
            match (d.to, d.waypoints) {
                (Some(to), None) => vec![vec![to]],
                (None, Some(waypoints)) => vec![waypoints],
                _ => return Err("a delivery is `to` a point".into()),
            }
        }
        "survey" => survey(
            serde_json::from_str(payload).map_err(|e| e.to_string())?,
            workers,
        )?,
        other => return Err(format!("not a drone task: {other:?}")),
    };
    let all = flights.iter().flatten();
    if let Some(bad) = all
        .clone()
        .find(|p| !p.is_finite() || !airspace.contains(**p))
    {
        let (min, max) = (airspace.min, airspace.max);
        return Err(format!(
            "waypoint {bad} is outside the airspace {min}-{max}"
        ));
    }
    let total = all.count();
    if total == 0 || total > MAX_WAYPOINTS {
        return Err(format!("{total} waypoints (1..={MAX_WAYPOINTS})"));
    }
    Ok(flights
        .into_iter()
        .map(|waypoints| Flight { waypoints, next: 0 })
        .collect())
}

fn survey(s: Survey, workers: usize) -> Result<Vec<Vec<Point>>, String> {
    match (s.area, s.waypoints) {
        (Some(area), None) => {
            let spacing = s.spacing.unwrap_or(10.0);
            if !spacing.is_finite() || spacing < MIN_SPACING_M {
                return Err(format!("spacing of at least {MIN_SPACING_M} m"));
            }
            let strips = strips(&area, spacing)?;
            let per = strips.len().div_ceil(workers.clamp(1, 8)).max(1);
            Ok(strips.chunks(per).map(|c| c.concat()).collect())
        }
        (None, Some(waypoints)) if s.spacing.is_none() => Ok(vec![waypoints]),
        _ => Err("a survey is an area (and a spacing), or waypoints".into()),
    }
}

/// The area's strips, west to east and back, `spacing` apart, as pairs of
/// waypoints.
fn strips(area: &Area, spacing: f64) -> Result<Vec<Vec<Point>>, String> {
    if !(area.min.is_finite() && area.max.is_finite()) || area.width() < 0.0 || area.height() < 0.0
    {
        return Err("the area's min corner must be south-west of its max".into());
    }
    let count = (area.height() / spacing).floor() as usize + 1;
    if count * 2 > MAX_WAYPOINTS {
        return Err(format!("{count} strips: at most {}", MAX_WAYPOINTS / 2));
    }
    Ok((0..count)
        .map(|i| {
            let y = area.min.1 + spacing * i as f64;
            let (west, east) = (Point(area.min.0, y), Point(area.max.0, y));
            if i % 2 == 0 {
                vec![west, east]
            } else {
                vec![east, west]
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn airspace() -> Area {
        Area {
            min: Point(0.0, 0.0),
            max: Point(100.0, 100.0),
        }
    }

    #[test]
    fn a_survey_area_splits_into_bands_of_strips_that_cover_it() {
        let spec = TaskSpec::new(
            "survey",
            r#"{"area": {"min": [10, 10], "max": [50, 50]}, "spacing": 10}"#,
        );
        let flights = split(&spec, &airspace(), 2).unwrap();
        assert_eq!(flights.len(), 2);
        let ys: Vec<f64> = flights
            .iter()
            .flat_map(|f| &f.waypoints)
            .map(|p| p.1)
            .collect();
        assert_eq!(
            ys,
            [10.0, 10.0, 20.0, 20.0, 30.0, 30.0, 40.0, 40.0, 50.0, 50.0]
        );
        let one = parse(&spec, &airspace()).unwrap();
        let deliver = TaskSpec::new("deliver", r#"{"to": [5, 5]}"#);
        let split_deliver = split(&deliver, &airspace(), 3).unwrap();
        let json = serde_json::to_string(&split_deliver[0]).unwrap();
        assert!(parse(&TaskSpec::new("deliver", json), &airspace()).is_ok());
        assert_eq!(one.waypoints.len(), 10);
        // What the splitter makes parses back as the same flight.
        let json = serde_json::to_string(&flights[0]).unwrap();
        let again = parse(&TaskSpec::new("survey", json), &airspace()).unwrap();
        assert_eq!(again.waypoints, flights[0].waypoints);
    }

    #[test]
    fn bad_payloads_say_what_is_wrong() {
        let outside = TaskSpec::new("deliver", r#"{"to": [500, 5]}"#);
        assert!(
            parse(&outside, &airspace())
                .unwrap_err()
                .contains("outside the airspace")
        );
        let typo = TaskSpec::new("deliver", r#"{"too": [5, 5]}"#);
        assert!(
            parse(&typo, &airspace())
                .unwrap_err()
                .contains("unknown field")
        );
        let tight = TaskSpec::new(
            "survey",
            r#"{"area": {"min": [0, 0], "max": [100, 100]}, "spacing": 0.01}"#,
        );
        assert!(parse(&tight, &airspace()).unwrap_err().contains("spacing"));
        let both = TaskSpec::new("survey", r#"{"waypoints": [[1, 1]], "spacing": 3}"#);
        assert!(parse(&both, &airspace()).is_err());
        let empty = TaskSpec::new("survey", r#"{"waypoints": []}"#);
        assert!(
            parse(&empty, &airspace())
                .unwrap_err()
                .contains("0 waypoints")
        );
    }

    #[test]
    fn a_flight_passes_the_waypoints_it_reaches() {
        let mut f = Flight {
            waypoints: vec![Point(0.0, 0.0), Point(10.0, 0.0)],
            next: 0,
        };
        assert_eq!(f.next_waypoint(Point(0.2, 0.0)), Some(Point(10.0, 0.0)));
        assert_eq!(f.next, 1);
        assert_eq!(f.next_waypoint(Point(9.5, 0.0)), None);
        assert_eq!(f.length_m(), 10.0);
    }
}
