import './base.css';
import './leaderboard.css';
import './ab.css';
import './optimize.css';
