-- Most common released texts per application (window titles, button labels, menu items, web hosts) and how many people used each (the 7 days ending at dt)
WITH days AS (
    SELECT app_name, subject_pid, window_title, window_title_id, target_name, target_name_id,
           menu_path, menu_path_ids, window_host, window_host_id
    FROM interactions
    WHERE program = {program}
      AND dt BETWEEN date_format(CAST({dt} AS date) - interval '6' day, '%Y-%m-%d') AND {dt}
)
SELECT app_name, field, text, count(*) AS uses, count(DISTINCT subject_pid) AS people
FROM (
    SELECT app_name, 'window title' AS field, window_title AS text, subject_pid
    FROM days
    WHERE window_title_id IS NOT NULL AND window_title IS NOT NULL
    UNION ALL
    SELECT app_name, 'button or field', target_name, subject_pid
    FROM days
    WHERE target_name_id IS NOT NULL AND target_name IS NOT NULL
    UNION ALL
    SELECT app_name, 'menu item', label, subject_pid
    FROM days CROSS JOIN UNNEST(menu_path) AS m (label)
    WHERE menu_path_ids IS NOT NULL AND label IS NOT NULL
    UNION ALL
    SELECT app_name, 'web host', window_host, subject_pid
    FROM days
    WHERE window_host_id IS NOT NULL AND window_host IS NOT NULL
) AS texts
GROUP BY 1, 2, 3
ORDER BY uses DESC, app_name, field, text
LIMIT 100
