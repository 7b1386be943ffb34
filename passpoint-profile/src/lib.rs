//! Read, validate, convert and match Passpoint (Hotspot 2.0) profiles. Filled by the passpoint-profile issue.
