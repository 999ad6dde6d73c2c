"""The record of the day: perspectives side by side (``compare``), the rows they are read from
(``rows``), and the report with its CSV and JSON (``report``)."""
