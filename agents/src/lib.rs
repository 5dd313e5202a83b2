//! Policies and learners. A policy acts for a whole batch at once.
