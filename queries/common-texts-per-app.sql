-- Most common released texts per application (window titles, button labels, menu items, web hosts) and how many people used each (last 7 days)
SELECT app_name, field, text, count(*) AS uses, count(DISTINCT subject_pid) AS people
FROM (
    SELECT app_name, 'window title' AS field, window_title AS text, subject_pid
    FROM interactions
    WHERE program = '{program}' AND dt >= date_format(current_date - interval '7' day, '%Y-%m-%d')
      AND window_title_id IS NOT NULL AND window_title IS NOT NULL
    UNION ALL
    SELECT app_name, 'button or field', target_name, subject_pid
    FROM interactions
    WHERE program = '{program}' AND dt >= date_format(current_date - interval '7' day, '%Y-%m-%d')
      AND target_name_id IS NOT NULL AND target_name IS NOT NULL
    UNION ALL
    SELECT app_name, 'menu item', label, subject_pid
    FROM interactions CROSS JOIN UNNEST(menu_path) AS m (label)
    WHERE program = '{program}' AND dt >= date_format(current_date - interval '7' day, '%Y-%m-%d')
      AND menu_path_ids IS NOT NULL AND label IS NOT NULL
    UNION ALL
    SELECT app_name, 'web host', window_host, subject_pid
    FROM interactions
    WHERE program = '{program}' AND dt >= date_format(current_date - interval '7' day, '%Y-%m-%d')
      AND window_host_id IS NOT NULL AND window_host IS NOT NULL
) AS texts
GROUP BY 1, 2, 3
ORDER BY uses DESC, app_name, field, text
LIMIT 100
