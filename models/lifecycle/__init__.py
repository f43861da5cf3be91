"""The model lifecycle: retraining from work-order labels, the judge and promotion policy, the watch service.

``retrain`` builds a challenger from the latest labels and the champion's original training
source, judges it against the champion on recently labelled assets it never saw, and promotes it
(MANAGED) or leaves it awaiting an engineer's approval (MANUAL). ``watch`` runs drift checks and
retrains on a drift alarm or a schedule. Every step is a :class:`models.events.ModelEvent`.
"""
