-- Events per day and type, and how many of them had something redacted (the 30 days ending at dt)
SELECT dt, type, count(*) AS events,
       sum(CASE WHEN cardinality(redactions) > 0 THEN 1 ELSE 0 END) AS events_with_redactions
FROM interactions
WHERE program = {program}
  AND dt BETWEEN date_format(CAST({dt} AS date) - interval '29' day, '%Y-%m-%d') AND {dt}
GROUP BY 1, 2
ORDER BY 1, 2
